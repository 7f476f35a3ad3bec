// Tells systemd (Type=notify) how the daemon is doing; does nothing when not started by systemd.
#pragma once

#include <string_view>

namespace minisync {

void notify_ready(std::string_view status);
void notify_status(std::string_view status);
void notify_stopping();

} // namespace minisync

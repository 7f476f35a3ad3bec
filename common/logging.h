// Process-wide logging setup: one spdlog logger on stderr, libevent's own messages routed into it.
// Code logs with SPDLOG_TRACE/DEBUG/INFO/WARN/ERROR, which record file and line and skip formatting when off.
#pragma once

#include <optional>
#include <string_view>

#include <spdlog/common.h>

namespace minisync {

std::optional<spdlog::level::level_enum> parse_log_level(std::string_view name);

// Without timestamps when stderr goes to the journal (JOURNAL_STREAM is set), which adds its own.
void init_logging(spdlog::level::level_enum level);

} // namespace minisync

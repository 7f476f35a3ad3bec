// sd_notify(3) wrappers: NOTIFY_SOCKET is kept in the environment so forked helpers could notify too.
#include "service_notify.h"

#include <systemd/sd-daemon.h>

#include <string>

namespace minisync {

void notify_ready(std::string_view status)
{
    sd_notify(0, ("READY=1\nSTATUS=" + std::string{status}).c_str());
}

void notify_status(std::string_view status)
{
    sd_notify(0, ("STATUS=" + std::string{status}).c_str());
}

void notify_stopping()
{
    sd_notify(0, "STOPPING=1");
}

} // namespace minisync

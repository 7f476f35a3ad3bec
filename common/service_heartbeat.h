// Keeps systemd informed while a Type=notify service runs: a STATUS= line every few seconds (what
// `systemctl status` shows) and WATCHDOG=1 at half the unit's WatchdogSec when it has one. Does nothing,
// and arms no timer, when the process was not started by systemd. Loop thread only.
#pragma once

#include "libevent_handles.h"

#include <functional>
#include <string>

namespace minisync {

class ServiceHeartbeat {
public:
    // status() is asked for the text of each STATUS= line.
    ServiceHeartbeat(event_base* base, std::function<std::string()> status);
    ServiceHeartbeat(const ServiceHeartbeat&) = delete;
    ServiceHeartbeat& operator=(const ServiceHeartbeat&) = delete;

    void start();
    void stop();

private:
    static void on_tick(evutil_socket_t, short, void* self) { static_cast<ServiceHeartbeat*>(self)->beat(); }
    void beat();

    const std::function<std::string()> status_;
    EventPtr timer_;
    bool watchdog_ = false;
    std::string last_status_;
};

} // namespace minisync

// /proc/self/mountinfo watched edge-triggered on the event loop.
#include "mount_watch.h"

#include "must_succeed.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace minisync::agent {

MountWatch::MountWatch(event_base* base, std::function<void()> changed)
    : changed_{std::move(changed)}, mountinfo_{::open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC)}
{
    if (!mountinfo_) {
        SPDLOG_WARN("cannot watch the mount table ('/proc/self/mountinfo': {}); a folder root that a bind "
                    "unmount replaces is noticed only when it is next used",
                    std::strerror(errno));
        return;
    }
    event_.reset(event_new(base, mountinfo_.get(), EV_READ | EV_ET | EV_PERSIST, &MountWatch::on_event, this));
    must_succeed(event_ != nullptr, "event_new");
    must_succeed(event_add(event_.get(), nullptr) == 0, "event_add");
}

} // namespace minisync::agent

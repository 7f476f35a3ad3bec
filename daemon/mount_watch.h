// Tells the agent when the mount table changes: a mount or an unmount anywhere in its mount namespace.
// An unmount that ends no file system (a bind mount going, while the file system stays mounted
// elsewhere) sends no inotify event at all, so a folder root could otherwise change under the agent
// unnoticed. The kernel flags /proc/self/mountinfo for poll on each change (proc(5)); the file always
// reads as readable, so it is watched edge-triggered. Loop thread only.
#pragma once

#include "libevent_handles.h"
#include "unique_fd.h"

#include <functional>

namespace minisync::agent {

class MountWatch {
public:
    // changed runs on the loop thread after each change (and once at start). Without /proc, nothing is
    // watched and the reason is logged.
    MountWatch(event_base* base, std::function<void()> changed);
    MountWatch(const MountWatch&) = delete;
    MountWatch& operator=(const MountWatch&) = delete;

private:
    static void on_event(evutil_socket_t, short, void* self) { static_cast<MountWatch*>(self)->changed_(); }

    std::function<void()> changed_;
    UniqueFd mountinfo_;
    EventPtr event_;
};

} // namespace minisync::agent

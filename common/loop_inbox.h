// Hands work from worker threads back to the event loop thread: the only way results enter the loop.
#pragma once

#include "libevent_handles.h"

#include <functional>
#include <mutex>
#include <vector>

namespace minisync {

class LoopInbox {
public:
    using Task = std::function<void()>;

    explicit LoopInbox(event_base* base);
    LoopInbox(const LoopInbox&) = delete;
    LoopInbox& operator=(const LoopInbox&) = delete;

    // Any thread. The task runs on the loop thread on a later pass; tasks still queued when the
    // inbox is destroyed are destroyed unrun.
    void post(Task task);

private:
    static void on_wake(evutil_socket_t, short, void* self) { static_cast<LoopInbox*>(self)->drain(); }
    void drain();

    std::mutex mutex_;
    std::vector<Task> pending_;
    // Last, so the event is freed before the queue it reads.
    EventPtr wake_;
};

} // namespace minisync

// Hands the allocator's free memory back to the kernel once a daemon's work has stopped for a while.
// prepare_process() makes the allocator keep freed buffers while a transfer runs (reusing them costs
// nothing; handing them back and faulting them in again cost a tenth of the agent's CPU); this gives
// them back when the transfer is over, so an idle daemon holds only what it uses. Loop thread only.
#pragma once

#include "libevent_handles.h"

#include <chrono>
#include <cstdint>
#include <functional>

namespace minisync {

class IdleMemoryRelease {
public:
    static constexpr std::chrono::milliseconds DefaultQuietPeriod{2000};

    // progress() returns a count that grows with the work done (files and bytes moved). release() is
    // what happens once it has stood still for quiet_period after note_work(): malloc_trim(0) unless
    // a test gives another.
    IdleMemoryRelease(event_base* base, std::function<std::uint64_t()> progress,
                      std::chrono::milliseconds quiet_period = DefaultQuietPeriod,
                      std::function<void()> release = {});
    IdleMemoryRelease(const IdleMemoryRelease&) = delete;
    IdleMemoryRelease& operator=(const IdleMemoryRelease&) = delete;

    // Some work was done (or ended). Arms the quiet-period check unless it is armed: no timer runs in
    // a daemon that does nothing.
    void note_work();

private:
    static void on_timer(evutil_socket_t, short, void* self) { static_cast<IdleMemoryRelease*>(self)->check(); }
    void check();
    void arm();

    const std::function<std::uint64_t()> progress_;
    const std::chrono::milliseconds quiet_period_;
    const std::function<void()> release_;
    const EventPtr timer_;
    std::uint64_t progress_when_armed_ = 0;
};

} // namespace minisync

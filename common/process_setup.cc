// Signals, the open-file limit, allocator and libevent threading setup.
#include "process_setup.h"

#include "must_succeed.h"

#include <event2/thread.h>
#include <malloc.h>
#include <sys/resource.h>

#include <csignal>

namespace minisync {
namespace {

// File chunks and frame bodies (up to 1 MiB each) are allocated and freed by the thousand per second.
// With glibc's defaults the free memory at the top of a thread's heap is handed back to the kernel as
// soon as it passes a few MiB, and the next chunk faults the same pages in again, zeroed: up to a tenth
// of the agent's CPU on a large transfer. Below these bounds freed memory is reused instead. What a
// heap keeps is bounded by the threshold and by what the daemons buffer at most (the agent 8 MiB, the
// server 32 MiB per connection).
constexpr int MmapThreshold = 4 << 20;
constexpr int TrimThreshold = 32 << 20;

} // namespace

void prepare_process()
{
    std::signal(SIGPIPE, SIG_IGN);
    // No use yet: a stray kill -USR1 (meant for another daemon, or a log rotation script's habit) must
    // not end the process, which is their default action.
    std::signal(SIGUSR1, SIG_IGN);
    std::signal(SIGUSR2, SIG_IGN);
    // A write past a file size limit (LimitFSIZE=) then fails with EFBIG instead of ending the process.
    std::signal(SIGXFSZ, SIG_IGN);
    // systemd and login shells give a soft limit of 1024 open files under a far higher hard one. A server
    // holding a thousand agents, or an agent watching many directories, needs more, and nothing here uses
    // select(), which is what the low soft limit protects. A limit that cannot be raised stays as it was.
    rlimit files{};
    if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        (void)::setrlimit(RLIMIT_NOFILE, &files);
    }
    ::mallopt(M_MMAP_THRESHOLD, MmapThreshold);
    ::mallopt(M_TRIM_THRESHOLD, TrimThreshold);
    must_succeed(evthread_use_pthreads() == 0, "evthread_use_pthreads");
}

} // namespace minisync

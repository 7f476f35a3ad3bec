// SIGPIPE, SIGXFSZ and libevent threading setup.
#include "process_setup.h"

#include <event2/thread.h>

#include <csignal>
#include <stdexcept>

namespace minisync {

void prepare_process()
{
    std::signal(SIGPIPE, SIG_IGN);
    // A write past a file size limit (LimitFSIZE=) then fails with EFBIG instead of ending the process.
    std::signal(SIGXFSZ, SIG_IGN);
    if (evthread_use_pthreads() != 0) {
        throw std::runtime_error("evthread_use_pthreads failed");
    }
}

} // namespace minisync

// The critical log line and the stop for a call that must not fail.
#include "must_succeed.h"

#include <spdlog/spdlog.h>

#include <exception>

namespace minisync {

void stop_after_failed_call(const char* call, CallSite where) noexcept
{
    spdlog::log(spdlog::source_loc{where.file, where.line, where.function}, spdlog::level::critical,
                "{} failed: out of memory or a broken event loop; stopping", call);
    std::terminate();
}

} // namespace minisync

// The critical log line and the stop for a call that must not fail.
#include "must_succeed.h"

#include <spdlog/spdlog.h>

#include <exception>

namespace minisync {

void stop_after_failed_call(const char* call, std::source_location where) noexcept
{
    spdlog::log(spdlog::source_loc{where.file_name(), static_cast<int>(where.line()), where.function_name()},
                spdlog::level::critical, "{} failed: out of memory or a broken event loop; stopping", call);
    std::terminate();
}

} // namespace minisync

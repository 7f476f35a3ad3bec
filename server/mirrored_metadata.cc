// Conversion of protocol timestamps.
#include "mirrored_metadata.h"

namespace minisync::server {

timespec to_timespec(std::int64_t ns)
{
    constexpr std::int64_t Billion = 1'000'000'000;
    std::int64_t sec = ns / Billion;
    std::int64_t rem = ns % Billion;
    if (rem < 0) {
        rem += Billion;
        --sec;
    }
    return timespec{static_cast<time_t>(sec), static_cast<long>(rem)};
}

} // namespace minisync::server

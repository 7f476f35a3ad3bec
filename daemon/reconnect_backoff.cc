// The jittered, doubling wait between connection attempts.
#include "reconnect_backoff.h"

#include <algorithm>

namespace minisync::agent {

std::chrono::milliseconds ReconnectBackoff::next()
{
    std::uniform_int_distribution<long> spread{step_.count() / 2, step_.count()};
    const std::chrono::milliseconds wait{spread(jitter_)};
    step_ = std::min(step_ * 2, MaxStep);
    return wait;
}

} // namespace minisync::agent

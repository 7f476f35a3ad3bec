// How long the agent waits before it connects again: from 250 ms, doubling to 30 s, each wait drawn at
// random between half and all of the current step (full jitter), so a fleet of agents that lost one
// server does not come back in step. Back to the first step once connected.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace minisync::agent {

class ReconnectBackoff {
public:
    static constexpr std::chrono::milliseconds FirstStep{250};
    static constexpr std::chrono::milliseconds MaxStep{30'000};

    explicit ReconnectBackoff(std::uint32_t seed = std::random_device{}()) : jitter_{seed} {}

    // The wait before the next attempt; the step after it is twice as long, up to MaxStep.
    std::chrono::milliseconds next();
    // Connected: the next failure waits the first step again.
    void reset() noexcept { step_ = FirstStep; }

private:
    std::chrono::milliseconds step_ = FirstStep;
    std::minstd_rand jitter_;
};

} // namespace minisync::agent

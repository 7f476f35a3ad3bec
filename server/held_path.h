// One path lock held by one request: taken from PathLocks, released when the holder is destroyed, so a
// request cannot end (or its connection close) and leave its path locked.
#pragma once

#include "path_locks.h"
#include "worker_pool.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace minisync::server {

class HeldPath {
public:
    // Nothing when someone else holds the path (see PathLocks::acquire).
    static std::optional<HeldPath> acquire(PathLocks& locks, std::string key, bool whole_tree)
    {
        std::optional<PathLocks::Lease> lease = locks.acquire(key, whole_tree);
        if (!lease) {
            return std::nullopt;
        }
        return HeldPath{locks, std::move(key), std::move(*lease)};
    }

    HeldPath(HeldPath&& other) noexcept
        : locks_{std::exchange(other.locks_, nullptr)}, key_{std::move(other.key_)}, lease_{std::move(other.lease_)}
    {
    }
    HeldPath& operator=(HeldPath&& other) noexcept
    {
        if (this != &other) {
            release();
            locks_ = std::exchange(other.locks_, nullptr);
            key_ = std::move(other.key_);
            lease_ = std::move(other.lease_);
        }
        return *this;
    }
    HeldPath(const HeldPath&) = delete;
    HeldPath& operator=(const HeldPath&) = delete;
    ~HeldPath() { release(); }

    // The strand that runs the work on this path, in order.
    [[nodiscard]] const std::shared_ptr<Strand>& strand() const noexcept { return lease_.strand; }
    [[nodiscard]] const std::string& key() const noexcept { return key_; }

private:
    HeldPath(PathLocks& locks, std::string key, PathLocks::Lease lease)
        : locks_{&locks}, key_{std::move(key)}, lease_{std::move(lease)}
    {
    }

    void release() noexcept
    {
        if (locks_ != nullptr) {
            std::exchange(locks_, nullptr)->release(key_, lease_.generation);
        }
    }

    PathLocks* locks_; // null once moved from
    std::string key_;
    PathLocks::Lease lease_;
};

} // namespace minisync::server

// What every request on a connection holds, whatever its kind: the lock on its path (a rename's on its
// destination too) and the strand its work runs on. The lock goes with the request.
#pragma once

#include "held_path.h"
#include "worker_pool.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace minisync::server {

// The locks a request was admitted with.
struct Admission {
    HeldPath path;
    std::optional<HeldPath> destination; // RENAME only
};

class ClientRequest {
public:
    explicit ClientRequest(HeldPath&& path) : path_{std::move(path)} {}
    ClientRequest(const ClientRequest&) = delete;
    ClientRequest& operator=(const ClientRequest&) = delete;
    virtual ~ClientRequest() = default;

    [[nodiscard]] const std::shared_ptr<Strand>& strand() const noexcept { return path_.strand(); }
    [[nodiscard]] const std::string& lock_key() const noexcept { return path_.key(); }
    // Called as a request ends with ERROR or ABORT: queues the removal of whatever it wrote, before its
    // path is unlocked so the next request for the path comes after it.
    virtual void discard_partial() {}

private:
    HeldPath path_;
};

using ClientRequestPtr = std::unique_ptr<ClientRequest>;

} // namespace minisync::server

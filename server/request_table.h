// The requests one connection has in flight, by request id, and which ids it has used. Loop thread only.
//
// The agent numbers its requests on a connection, non-zero and strictly increasing (docs/PROTOCOL.md),
// so an id at or below the highest seen either names a live request or is stale: its request finished
// and frames for it that were already on the way (DATA behind an ERROR, say) are dropped, not refused.
#pragma once

#include "client_request.h"

#include <cstddef>
#include <cstdint>
#include <unordered_map>

namespace minisync::server {

class RequestTable {
public:
    // More would let one connection hold a lock on half the tree.
    static constexpr std::size_t MaxRequests = 256;

    // A new request's id: false (and nothing changes) unless it is above every id used before. From
    // then on the id counts as used, whether or not its request is admitted.
    [[nodiscard]] bool claim_id(std::uint32_t request_id) noexcept;
    [[nodiscard]] bool full() const noexcept { return requests_.size() >= MaxRequests; }
    // The id must have been claimed and not be in the table.
    void insert(std::uint32_t request_id, ClientRequestPtr request);

    [[nodiscard]] ClientRequest* find(std::uint32_t request_id) const noexcept;
    [[nodiscard]] bool contains(std::uint32_t request_id) const noexcept { return requests_.contains(request_id); }
    // Used before and finished.
    [[nodiscard]] bool is_stale(std::uint32_t request_id) const noexcept;
    // Hands the request to the caller, which decides what happens as it ends; nothing when it is not live.
    ClientRequestPtr remove(std::uint32_t request_id);
    [[nodiscard]] std::size_t size() const noexcept { return requests_.size(); }

private:
    std::uint32_t highest_id_ = 0;
    std::unordered_map<std::uint32_t, ClientRequestPtr> requests_;
};

} // namespace minisync::server

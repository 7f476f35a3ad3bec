// Request ids and the live requests of one connection.
#include "request_table.h"

#include <cassert>
#include <utility>

namespace minisync::server {

bool RequestTable::claim_id(std::uint32_t request_id) noexcept
{
    if (request_id <= highest_id_) {
        return false; // also refuses 0, which names the connection in ERROR
    }
    highest_id_ = request_id;
    return true;
}

void RequestTable::insert(std::uint32_t request_id, ClientRequestPtr request)
{
    assert(request_id != 0 && request_id <= highest_id_);
    [[maybe_unused]] const bool inserted = requests_.emplace(request_id, std::move(request)).second;
    assert(inserted);
}

ClientRequest* RequestTable::find(std::uint32_t request_id) const noexcept
{
    const auto it = requests_.find(request_id);
    return it == requests_.end() ? nullptr : it->second.get();
}

bool RequestTable::is_stale(std::uint32_t request_id) const noexcept
{
    return request_id != 0 && request_id <= highest_id_ && !requests_.contains(request_id);
}

ClientRequestPtr RequestTable::remove(std::uint32_t request_id)
{
    const auto it = requests_.find(request_id);
    if (it == requests_.end()) {
        return nullptr;
    }
    ClientRequestPtr request = std::move(it->second);
    requests_.erase(it);
    return request;
}

} // namespace minisync::server

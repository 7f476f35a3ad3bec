// The count of open uploads per client and in all, and the slots that hold places in it.
#include "client_uploads.h"

#include <cassert>
#include <utility>

namespace minisync::server {

ClientUploads::Slot::Slot(Slot&& other) noexcept
    : owner_{std::exchange(other.owner_, nullptr)}, client_{std::move(other.client_)}
{
}

ClientUploads::Slot& ClientUploads::Slot::operator=(Slot&& other) noexcept
{
    if (this != &other) {
        release();
        owner_ = std::exchange(other.owner_, nullptr);
        client_ = std::move(other.client_);
    }
    return *this;
}

void ClientUploads::Slot::release() noexcept
{
    if (ClientUploads* owner = std::exchange(owner_, nullptr)) {
        owner->give_back(client_);
    }
}

ClientUploads::Verdict ClientUploads::take(const std::string& client, Slot& slot)
{
    assert(!slot.held());
    const std::lock_guard lock{mutex_};
    if (total_ >= in_all_) {
        return Verdict::ServerFull;
    }
    std::size_t& open = open_[client];
    if (open >= per_client_) {
        return Verdict::ClientFull;
    }
    ++open;
    ++total_;
    slot.owner_ = this;
    slot.client_ = client;
    return Verdict::Taken;
}

void ClientUploads::give_back(const std::string& client) noexcept
{
    const std::lock_guard lock{mutex_};
    const auto it = open_.find(client);
    assert(it != open_.end() && it->second > 0);
    if (--it->second == 0) {
        open_.erase(it);
    }
    --total_;
}

std::size_t ClientUploads::of(const std::string& client) const
{
    const std::lock_guard lock{mutex_};
    const auto it = open_.find(client);
    return it == open_.end() ? 0 : it->second;
}

std::size_t ClientUploads::total() const
{
    const std::lock_guard lock{mutex_};
    return total_;
}

} // namespace minisync::server

// The counts of handshakes in progress, in all and per source address.
#include "handshake_admission.h"

#include <utility>

namespace minisync::server {

HandshakeAdmission::Slot::Slot(Slot&& other) noexcept
    : owner_{std::exchange(other.owner_, nullptr)}, address_{std::move(other.address_)}
{
}

HandshakeAdmission::Slot& HandshakeAdmission::Slot::operator=(Slot&& other) noexcept
{
    if (this != &other) {
        release();
        owner_ = std::exchange(other.owner_, nullptr);
        address_ = std::move(other.address_);
    }
    return *this;
}

void HandshakeAdmission::Slot::release() noexcept
{
    if (HandshakeAdmission* owner = std::exchange(owner_, nullptr)) {
        owner->give_back(address_);
    }
}

HandshakeAdmission::Verdict HandshakeAdmission::admit(const std::string& address, Slot& slot)
{
    if (in_progress_ >= max_in_all_) {
        return Verdict::TooManyInAll;
    }
    std::size_t& mine = per_address_[address];
    if (mine >= max_per_address_) {
        return Verdict::TooManyFromAddress;
    }
    ++mine;
    ++in_progress_;
    slot = Slot{*this, address};
    return Verdict::Admitted;
}

std::size_t HandshakeAdmission::from(const std::string& address) const
{
    const auto it = per_address_.find(address);
    return it == per_address_.end() ? 0 : it->second;
}

void HandshakeAdmission::give_back(const std::string& address) noexcept
{
    --in_progress_;
    const auto it = per_address_.find(address);
    if (--it->second == 0) {
        per_address_.erase(it);
    }
}

} // namespace minisync::server

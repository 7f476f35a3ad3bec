// Connections still in their TLS handshake: nobody knows yet who is on the other end, so they are capped
// apart from the authenticated ones (--max-connections), in all and per source address. A few hundred idle
// sockets from one host then cannot lock every agent out: they fill their own address's few places, never
// the authenticated clients' room. Loop thread only.
#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>

namespace minisync::server {

class HandshakeAdmission {
public:
    enum class Verdict { Admitted, TooManyInAll, TooManyFromAddress };

    // One connection's place among the handshakes in progress, given back when it is released or goes.
    class Slot {
    public:
        Slot() = default;
        Slot(Slot&& other) noexcept;
        Slot& operator=(Slot&& other) noexcept;
        Slot(const Slot&) = delete;
        Slot& operator=(const Slot&) = delete;
        ~Slot() { release(); }

        void release() noexcept;
        [[nodiscard]] bool held() const noexcept { return owner_ != nullptr; }

    private:
        friend class HandshakeAdmission;
        Slot(HandshakeAdmission& owner, std::string address) : owner_{&owner}, address_{std::move(address)} {}

        HandshakeAdmission* owner_ = nullptr;
        std::string address_;
    };

    HandshakeAdmission(std::size_t max_in_all, std::size_t max_per_address)
        : max_in_all_{max_in_all}, max_per_address_{max_per_address}
    {
    }
    HandshakeAdmission(const HandshakeAdmission&) = delete;
    HandshakeAdmission& operator=(const HandshakeAdmission&) = delete;

    // Whether a new connection from address may start a handshake; when it may, slot holds its place.
    Verdict admit(const std::string& address, Slot& slot);
    [[nodiscard]] std::size_t in_progress() const noexcept { return in_progress_; }
    [[nodiscard]] std::size_t from(const std::string& address) const;

private:
    void give_back(const std::string& address) noexcept;

    const std::size_t max_in_all_;
    const std::size_t max_per_address_;
    std::size_t in_progress_ = 0;
    std::unordered_map<std::string, std::size_t> per_address_;
};

} // namespace minisync::server

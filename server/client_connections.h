// Authenticated connections, per client CN and in all (against --max-connections-per-client and
// --max-connections): the total is kept with the counts it sums, so a refusal at accept costs no walk over
// every client. Loop thread only.
#pragma once

#include <cstddef>
#include <map>
#include <string>

namespace minisync::server {

class ClientConnections {
public:
    [[nodiscard]] std::size_t total() const noexcept { return total_; }
    [[nodiscard]] std::size_t of(const std::string& cn) const
    {
        const auto it = per_client_.find(cn);
        return it == per_client_.end() ? 0 : it->second;
    }
    void add(const std::string& cn)
    {
        ++per_client_[cn];
        ++total_;
    }
    // For a connection add() counted, as it goes.
    void remove(const std::string& cn)
    {
        const auto it = per_client_.find(cn);
        if (--it->second == 0) {
            per_client_.erase(it);
        }
        --total_;
    }

private:
    std::map<std::string, std::size_t> per_client_;
    std::size_t total_ = 0;
};

} // namespace minisync::server

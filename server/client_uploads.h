// Uploads whose partial file is open, per client CN (across all of its connections) and in all, against
// --max-open-uploads-per-client and --max-open-uploads: each holds two descriptors, so without these caps
// one client with 16 connections of 256 requests each could take thousands of the server's descriptors.
//
// A slot is taken on the loop thread as an UPLOAD_BEGIN or PUT_FILE is admitted, before its file is
// opened, and travels with the file (IncomingUpload), so it is given back only once the file is closed:
// after the request has ended and the last strand task holding the file has run, which may be on a
// worker. Hence the mutex.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace minisync::server {

class ClientUploads {
public:
    enum class Verdict { Taken, ClientFull, ServerFull };

    // One open upload's place, given back when it goes.
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
        friend class ClientUploads;
        ClientUploads* owner_ = nullptr;
        std::string client_;
    };

    ClientUploads(std::size_t per_client, std::size_t in_all) : per_client_{per_client}, in_all_{in_all} {}
    // Every slot must have been given back: they point here.
    ClientUploads(const ClientUploads&) = delete;
    ClientUploads& operator=(const ClientUploads&) = delete;

    // Fills slot (which must hold nothing) unless the client or the server already has as many open as
    // allowed.
    Verdict take(const std::string& client, Slot& slot);

    [[nodiscard]] std::size_t of(const std::string& client) const;
    [[nodiscard]] std::size_t total() const;
    [[nodiscard]] std::size_t per_client_limit() const noexcept { return per_client_; }
    [[nodiscard]] std::size_t limit() const noexcept { return in_all_; }

private:
    void give_back(const std::string& client) noexcept;

    const std::size_t per_client_;
    const std::size_t in_all_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, std::size_t> open_; // clients with at least one
    std::size_t total_ = 0;
};

} // namespace minisync::server

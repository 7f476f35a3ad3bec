// One connection's requests on the server: admitting them (id, names, paths, limits, path locks), how
// each ends, and the worker results that end them. What each frame does to a request is in
// frame_handlers; the request kinds and their states are UploadRequest, PutFileRequest and EntryChange.
// Loop thread only.
#pragma once

#include "reply_sink.h"
#include "incoming_upload.h"
#include "protocol.h"
#include "client_request.h"
#include "request_table.h"
#include "session_completion.h"
#include "session_context.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace minisync::server {

class SessionRequests {
public:
    // client is the connection's client name, set before the first request (after the TLS handshake).
    SessionRequests(SessionContext& context, std::uint64_t session_id, const std::string& client,
                    ReplySink& connection)
        : context_{context}, completion_{context, session_id}, client_{client}, connection_{connection}
    {
    }
    SessionRequests(const SessionRequests&) = delete;
    SessionRequests& operator=(const SessionRequests&) = delete;

    // Where a new request writes.
    struct Place {
        std::uint32_t request_id;
        const std::string& folder;
        const std::string& path;
        bool whole_tree = false;               // a tree removal or a rename: holds everything below path
        const std::string* destination = nullptr; // RENAME
    };

    // Checks a new request's id, folder and path (and a rename's destination), takes their path locks
    // and adds R{admission, args...} to the table. On refusal the error is sent and nothing is returned.
    template <typename R, typename... Args>
    R* admit(const Place& place, Args&&... args)
    {
        std::optional<Admission> admission = take_place(place);
        if (!admission) {
            return nullptr;
        }
        auto request = std::make_unique<R>(std::move(*admission), std::forward<Args>(args)...);
        R* admitted = request.get();
        requests_.insert(place.request_id, std::move(request));
        return admitted;
    }
    // Over --max-file-size: the request is refused (and true returned).
    bool refused_as_too_large(std::uint32_t request_id, const std::string& folder, const std::string& path,
                              std::uint64_t size);
    // An admitted UPLOAD_BEGIN's or PUT_FILE's place among the open uploads of its client and of the
    // server; when either has as many as allowed, the request is refused with BUSY (the agent retries
    // later) and nothing is returned.
    std::optional<ClientUploads::Slot> take_upload_slot(std::uint32_t request_id, const std::string& folder,
                                                        const std::string& path);
    // The live request. Nothing for a stale id (the frame is dropped) or an unknown one (the connection is
    // refused as well).
    ClientRequest* live(std::uint32_t request_id, protocol::FrameType frame);
    // ERROR for the request, which ends and discards what it wrote.
    void fail(std::uint32_t request_id, protocol::ErrorCode code, const std::string& message);
    // ABORT and errors discard the partial file; SUSPEND and success keep it (or have none).
    void end(std::uint32_t request_id, bool discard_partial);

    // Bytes taken off the socket that no worker has written yet, for the connection's backpressure.
    void queued_to_disk(std::size_t bytes) noexcept { bytes_queued_to_disk_ += bytes; }
    [[nodiscard]] std::size_t bytes_queued_to_disk() const noexcept { return bytes_queued_to_disk_; }

    // Worker results, on the loop thread (through completion()).
    void on_upload_opened(std::uint32_t request_id, const IncomingUpload::OpenResult& result);
    void on_chunk_written(std::uint32_t request_id, std::size_t bytes, const IncomingUpload::WriteResult& result);
    void on_upload_committed(std::uint32_t request_id, const Result<void>& outcome);
    void on_put_done(std::uint32_t request_id, std::size_t bytes, const IncomingUpload::PutResult& result);
    void on_applied(std::uint32_t request_id, protocol::FrameType reply, const Result<void>& outcome);

    [[nodiscard]] SessionContext& context() const noexcept { return context_; }
    [[nodiscard]] const SessionCompletion& completion() const noexcept { return completion_; }
    [[nodiscard]] const std::string& client() const noexcept { return client_; }
    [[nodiscard]] ReplySink& connection() const noexcept { return connection_; }

private:
    // admit() without the type: the checks and the locks.
    std::optional<Admission> take_place(const Place& place);
    [[nodiscard]] std::string lock_key_for(const std::string& folder, const std::string& path) const;
    // COMMITTED, or ERROR with the reason the commit failed; either way the request ends.
    void report_commit(std::uint32_t request_id, const UploadTarget& target, const Result<void>& outcome);
    // The live request of that kind, or nothing (a worker's result for a request that has ended).
    template <typename R>
    R* live_as(std::uint32_t request_id) const
    {
        return dynamic_cast<R*>(requests_.find(request_id));
    }

    SessionContext& context_;
    const SessionCompletion completion_;
    const std::string& client_;
    ReplySink& connection_;
    RequestTable requests_;
    std::size_t bytes_queued_to_disk_ = 0;
};

} // namespace minisync::server

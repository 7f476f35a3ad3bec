// One agent's connection to the server: TLS identity check, HELLO, and the upload requests it carries.
// Protocol state lives here on the loop thread; file work is sent to each upload's strand.
//
// Connection states:  Handshake --(TLS done, CN accepted)--> AwaitHello --(HELLO ok)--> Ready
//                     Handshake --(CN refused)--> Refused
//                     any state --(error, EOF, shutdown)--> closed (reported to the server, then reaped)
// Request states:     BEGIN -> Opening --(READY sent)--> Receiving --(COMMIT)--> Committing -> finished
//                     Opening may finish at once with ALREADY_HAVE, HASH_WANTED or ERROR; any state may end with
//                     ERROR, ABORT or SUSPEND.
//                     PUT_FILE -> Committing (open, write and commit in one task) -> finished with COMMITTED,
//                     ALREADY_HAVE or ERROR.
//                     REMOVE -> Removing -> finished with REMOVED or ERROR.
//                     MAKE_DIR, MAKE_SYMLINK, RENAME -> Applying -> finished with DONE or ERROR.
// A connection that closes keeps its partial files for the agent to resume; ABORT and errors discard them.
#pragma once

#include "frame_channel.h"
#include "group_commit.h"
#include "idle_memory_release.h"
#include "incoming_upload.h"
#include "loop_inbox.h"
#include "path_locks.h"
#include "protocol_codec.h"
#include "server_settings.h"
#include "server_metrics.h"
#include "worker_pool.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace minisync::server {

class ClientSession;

// What every session shares with the server that owns it.
struct SessionContext {
    LoopInbox& inbox;
    WorkerPool& pool;
    const ServerSettings& settings;
    int root_fd;
    ServerMetrics& metrics;
    // Paths being uploaded by any session, so two requests never write the same partial file.
    PathLocks& path_locks;
    GroupCommitter& commits;
    // Told as each request ends, so the buffers of a finished transfer are handed back once all is quiet.
    IdleMemoryRelease& memory_release;
    // Completions from workers find their session by id, since it may have closed meanwhile.
    std::function<ClientSession*(std::uint64_t)> find_session;
    std::function<void(std::uint64_t)> session_closed;
    // Open connections per client CN, against settings.max_connections_per_client.
    std::map<std::string, std::size_t>& connections_per_client;
};

class ClientSession final : public FrameChannel::Handler {
public:
    ClientSession(std::uint64_t id, SessionContext& context, BufferEventPtr bev, std::string peer);
    ClientSession(const ClientSession&) = delete;
    ClientSession& operator=(const ClientSession&) = delete;
    ~ClientSession();

    [[nodiscard]] std::uint64_t id() const noexcept { return id_; }
    void shutdown(const std::string& reason);

private:
    enum class State { Handshake, Refused, AwaitHello, Ready };
    enum class Phase { Opening, Receiving, Committing, Applying };

    struct Upload {
        std::shared_ptr<IncomingUpload> file;
        std::shared_ptr<Strand> strand;
        std::string lock_key;
        std::uint64_t lock_generation = 0;
        // RENAME holds its destination too.
        std::string second_lock_key;
        std::uint64_t second_lock_generation = 0;
        // Strands whose queued work must run before this request's (RENAME: the destination's;
        // MAKE_DIR: everything below the directory, whose work would move its mtime).
        std::vector<std::shared_ptr<Strand>> run_after;
        std::uint64_t size = 0;
        std::uint64_t next_offset = 0;
        Phase phase = Phase::Opening;
    };

    void on_connected() override;
    void on_frame(const protocol::FrameHeader& header, ByteBuffer&& body) override;
    void on_data_frame(const protocol::FrameHeader& header, EvBufferPtr body) override;
    void on_bad_frame(const std::string& reason) override;
    void on_output_low() override;
    void on_closed(const std::string& reason) override;
    static void on_handshake_deadline(evutil_socket_t fd, short what, void* self);

    void dispatch(const protocol::FrameHeader& header, ByteBuffer&& body);
    // Stops reading while too much waits for the disk or for the peer to read its replies.
    void update_read_pause();

    void handle_hello(protocol::Bytes body);
    void handle_begin(protocol::Bytes body);
    void handle_data(EvBufferPtr body);
    void handle_put(ByteBuffer&& body);
    // Over --max-file-size: the request is refused (and true returned).
    bool refused_as_too_large(std::uint32_t request_id, const std::string& folder, const std::string& path,
                              std::uint64_t size);
    void handle_commit(protocol::Bytes body);
    // ABORT discards the partial file; SUSPEND keeps it for the agent to resume.
    void handle_abort(protocol::Bytes body, bool discard_partial);
    void handle_remove(protocol::Bytes body);
    void handle_make_dir(protocol::Bytes body);
    void handle_make_symlink(protocol::Bytes body);
    void handle_rename(protocol::Bytes body);
    // Runs a removal, directory, symlink or rename on the request's strand and answers with reply or ERROR.
    void apply_on_strand(std::uint32_t request_id, Upload& entry, std::function<std::optional<FsError>()> work,
                         protocol::FrameType reply);

    void on_upload_opened(std::uint32_t request_id, const IncomingUpload::OpenResult& result);
    void on_chunk_written(std::uint32_t request_id, std::size_t bytes, const IncomingUpload::WriteResult& result);
    void on_applied(std::uint32_t request_id, protocol::FrameType reply, const std::optional<FsError>& error);
    void on_upload_committed(std::uint32_t request_id, const std::optional<FsError>& error);
    void on_put_done(std::uint32_t request_id, std::size_t bytes, const IncomingUpload::PutResult& result);

    // Checks a new request's id, folder and path (and a rename's destination) and takes their path locks;
    // on refusal the error is sent and nothing is returned.
    Upload* admit_request(std::uint32_t request_id, const std::string& folder, const std::string& path,
                          bool whole_tree = false, const std::string* destination = nullptr);
    [[nodiscard]] std::string lock_key_for(const std::string& folder, const std::string& path) const;
    void release_locks(const Upload& entry);
    // Stale: an id this connection used before and that has finished; its late frames are dropped.
    [[nodiscard]] bool is_stale(std::uint32_t request_id) const noexcept;
    Upload* live_upload(std::uint32_t request_id, protocol::FrameType frame);
    void fail_request(std::uint32_t request_id, protocol::ErrorCode code, const std::string& message);
    void end_request(std::uint32_t request_id, bool discard_partial);
    void reject_connection(protocol::ErrorCode code, const std::string& message, RejectReason reason);

    const std::uint64_t id_;
    SessionContext& context_;
    const std::string peer_;
    EventPtr handshake_deadline_; // cancelled by HELLO; before the channel, which its callback uses
    FrameChannel channel_;
    State state_ = State::Handshake;
    std::string client_;
    bool counted_for_client_ = false; // in context.connections_per_client
    std::uint32_t highest_request_id_ = 0;
    std::unordered_map<std::uint32_t, Upload> uploads_;
    std::size_t bytes_queued_to_disk_ = 0;
    bool read_paused_ = false;
};

} // namespace minisync::server

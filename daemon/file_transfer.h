// One file sent to the server: announced, streamed in DATA frames from the offset the server takes, and
// committed with the SHA-256 of exactly the bytes sent; or, for a small file read whole, one PUT_FILE.
// The reads and the final hash run on the upload's strand behind the Disk interface; their results come
// back as on_chunk() and on_finished(). Loop thread only.
//
// States and transitions (anything not listed is Invalid, a protocol error):
//   put_whole()     -> Putting        PUT_FILE sent
//   begin()         -> AwaitingReady  UPLOAD_BEGIN sent (with the resume offset and prefix hash, if any)
//   AwaitingReady  --UPLOAD_READY (the offset asked for, or 0)--> Streaming (Finishing when nothing is left)
//                  --UPLOAD_READY (another offset)--> Ended, ABORT sent          OffsetRefused
//                  --ALREADY_HAVE--> Ended                                       AlreadyHeld
//                  --HASH_WANTED (when asked for)--> Ended                       HashWanted
//   Streaming      --chunk read--> Streaming, DATA sent; Finishing once every byte is sent
//                  --chunk failed--> Ended, ABORT sent                           ReadFailed
//                  --PROGRESS--> Streaming                                       Progressed
//   Finishing      --finished unchanged (or only grown, for a growing file)--> Committing, COMMIT sent
//                  --finished changed--> Ended, ABORT sent                       ChangedWhileSent
//                  --PROGRESS--> Finishing                                       Progressed
//   Committing     --COMMITTED--> Ended                                          Acknowledged
//                  --PROGRESS--> Committing (sent before the server saw the COMMIT; nothing to record)
//   Putting        --COMMITTED--> Ended                                          Acknowledged
//                  --ALREADY_HAVE--> Ended                                       AlreadyHeld
//   any but Ended  --ERROR--> Ended                                              Refused
//   AwaitingReady, Streaming --suspend()--> Ended, SUSPEND sent (the server keeps the partial)
#pragma once

#include "file_version.h"
#include "outgoing_file.h"
#include "request.h"
#include "sha256.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace minisync::agent {

class FileTransfer final : public Request {
public:
    enum class State { AwaitingReady, Putting, Streaming, Finishing, Committing, Ended };

    // The upload's disk side, run on its strand by whoever owns the transfer.
    class Disk {
    public:
        // Reads come in offset order: they feed the running hash. Answered by on_chunk().
        virtual void read(std::uint64_t offset, std::size_t length) = 0;
        // The final hash and change check. Answered by on_finished().
        virtual void finish() = 0;
        // The server did not take the resume offset: the running hash starts again from byte 0.
        virtual void restart() = 0;

        virtual ~Disk() = default;
    };

    // What was found when the file was opened.
    struct Upload {
        std::string folder; // the folder's name, as the server knows it
        std::string path;
        FileVersion version;
        std::uint32_t mode = 0;
        std::optional<Sha256Digest> sha256; // known before sending (hashed first, or read whole)
        // Without sha256: the server may hold the file already; it answers HASH_WANTED if a file of
        // this size is at the path.
        bool hash_if_present = false;
        std::uint64_t resume_offset = 0; // what this side offers to continue from
        Sha256Digest prefix_sha256{};
        // A file still being written: what it held up to its size when opened is committed even if it
        // grew meanwhile.
        bool growing = false;
    };

    static constexpr std::size_t ChunkSize = 256 * 1024;
    static constexpr std::size_t MaxReadsInFlight = 4;

    FileTransfer(FrameSink& sink, Disk& disk, std::uint32_t id, Upload upload);

    // The whole file, read and hashed while opening: one PUT_FILE.
    void put_whole(std::span<const std::uint8_t> content);
    // UPLOAD_BEGIN: the server answers with the offset to send from, or ends the request.
    void begin();

    Outcome on_reply(const ServerReply& reply) override;
    // Asks the disk for the next chunks, at most MaxReadsInFlight at a time and while fewer than
    // allowance bytes have been asked for by this call; returns how many bytes it asked for.
    std::size_t issue_reads(std::size_t allowance);
    Outcome on_chunk(std::uint64_t offset, std::size_t length, OutgoingFile::Chunk&& chunk);
    Outcome on_finished(const OutgoingFile::Finished& finished);
    // Pausing: the server keeps its partial file for a later resume from confirmed_offset().
    void suspend();

    [[nodiscard]] bool awaits_answer() const noexcept override;
    [[nodiscard]] const char* state_name() const noexcept override;
    [[nodiscard]] State state() const noexcept { return state_; }
    [[nodiscard]] const Upload& upload() const noexcept { return upload_; }
    [[nodiscard]] std::uint64_t size() const noexcept { return upload_.version.size; }
    // Handed to the connection (or, resuming, held by the server already).
    [[nodiscard]] std::uint64_t bytes_sent() const noexcept { return bytes_sent_; }
    // Durable on the server, from PROGRESS (or the resume offset offered).
    [[nodiscard]] std::uint64_t confirmed_offset() const noexcept { return confirmed_offset_; }
    // Where the server took up an interrupted upload (0: from the start).
    [[nodiscard]] std::uint64_t resumed_at() const noexcept { return resumed_at_; }
    // The SHA-256 committed (or already held): the one announced, or of the bytes sent.
    [[nodiscard]] const std::optional<Sha256Digest>& sha256() const noexcept { return sha256_; }

private:
    Outcome on_ready(std::uint64_t offset);
    Outcome on_progress(std::uint64_t durable_offset);
    void abort();
    void finish_if_all_sent();

    Disk& disk_;
    const Upload upload_;
    State state_ = State::AwaitingReady;
    std::uint64_t confirmed_offset_ = 0;
    std::uint64_t resumed_at_ = 0;
    std::uint64_t next_read_ = 0;
    std::uint64_t bytes_sent_ = 0;
    std::size_t reads_in_flight_ = 0;
    std::optional<Sha256Digest> sha256_;
};

} // namespace minisync::agent

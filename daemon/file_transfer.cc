// The transitions of one file transfer (the table is in file_transfer.h).
#include "file_transfer.h"

#include <algorithm>

namespace minisync::agent {

using protocol::FrameType;

FileTransfer::FileTransfer(FrameSink& sink, Disk& disk, std::uint32_t id, Upload upload)
    : Request{sink, id}, disk_{disk}, upload_{std::move(upload)}, confirmed_offset_{upload_.resume_offset}
{
}

void FileTransfer::put_whole(std::span<const std::uint8_t> content)
{
    state_ = State::Putting;
    sha256_ = upload_.sha256;
    bytes_sent_ = size();
    sink_.send(protocol::encode(protocol::PutFile{id_, upload_.folder, upload_.path, upload_.version.mtime_ns,
                                                  upload_.mode, upload_.sha256.value_or(Sha256Digest{}), content}));
}

void FileTransfer::begin()
{
    state_ = State::AwaitingReady;
    protocol::UploadBegin begin;
    begin.request_id = id_;
    begin.folder = upload_.folder;
    begin.path = upload_.path;
    begin.size = upload_.version.size;
    begin.mtime_ns = upload_.version.mtime_ns;
    begin.mode = upload_.mode;
    begin.sha256 = upload_.sha256;
    begin.hash_if_present = upload_.hash_if_present;
    begin.resume_offset = upload_.resume_offset;
    begin.prefix_sha256 = upload_.prefix_sha256;
    sink_.send(protocol::encode(begin));
}

Outcome FileTransfer::on_reply(const ServerReply& reply)
{
    const State state = state_;
    switch (reply.type) {
    case FrameType::UploadReady:
        return state == State::AwaitingReady ? on_ready(reply.offset) : Outcome::Invalid;
    case FrameType::Progress:
        return on_progress(reply.offset);
    case FrameType::Committed:
        if (state != State::Committing && state != State::Putting) {
            return Outcome::Invalid;
        }
        state_ = State::Ended;
        return Outcome::Acknowledged;
    case FrameType::AlreadyHave:
        if (state != State::AwaitingReady && state != State::Putting) {
            return Outcome::Invalid;
        }
        state_ = State::Ended;
        sha256_ = upload_.sha256;
        return Outcome::AlreadyHeld;
    case FrameType::HashWanted:
        if (state != State::AwaitingReady || !upload_.hash_if_present) {
            return Outcome::Invalid;
        }
        state_ = State::Ended;
        return Outcome::HashWanted;
    case FrameType::Error:
        if (state == State::Ended) {
            return Outcome::Invalid;
        }
        state_ = State::Ended;
        return refused(reply);
    default: return Outcome::Invalid;
    }
}

Outcome FileTransfer::on_ready(std::uint64_t offset)
{
    const bool resumed = offset == upload_.resume_offset;
    if (!resumed && offset != 0) {
        abort();
        return Outcome::OffsetRefused;
    }
    if (resumed) {
        resumed_at_ = offset;
    } else {
        // The server's partial was gone or not this version: the prefix hash starts over too.
        disk_.restart();
        confirmed_offset_ = 0;
    }
    state_ = State::Streaming;
    next_read_ = offset;
    bytes_sent_ = offset;
    finish_if_all_sent();
    return Outcome::Ready;
}

Outcome FileTransfer::on_progress(std::uint64_t durable_offset)
{
    switch (state_) {
    case State::Streaming:
    case State::Finishing:
        confirmed_offset_ = std::max(confirmed_offset_, durable_offset);
        return Outcome::Progressed;
    case State::Committing: return Outcome::Continue;
    default: return Outcome::Invalid;
    }
}

std::size_t FileTransfer::issue_reads(std::size_t allowance)
{
    std::size_t asked = 0;
    while (state_ == State::Streaming && reads_in_flight_ < MaxReadsInFlight && next_read_ < size() &&
           asked < allowance) {
        const std::uint64_t offset = next_read_;
        const auto length = static_cast<std::size_t>(std::min<std::uint64_t>(ChunkSize, size() - offset));
        next_read_ += length;
        ++reads_in_flight_;
        asked += length;
        disk_.read(offset, length);
    }
    return asked;
}

Outcome FileTransfer::on_chunk(std::uint64_t offset, std::size_t length, OutgoingFile::Chunk&& chunk)
{
    --reads_in_flight_;
    if (state_ != State::Streaming) {
        return Outcome::Continue; // read before the request ended; nothing more to send
    }
    if (!chunk.ok()) {
        error_ = chunk.error();
        abort();
        return Outcome::ReadFailed;
    }
    sink_.send_data(protocol::DataPrefix{id_, offset}, std::move(chunk).value());
    bytes_sent_ += length;
    finish_if_all_sent();
    return Outcome::Continue;
}

void FileTransfer::finish_if_all_sent()
{
    if (bytes_sent_ == size()) {
        state_ = State::Finishing;
        disk_.finish();
    }
}

Outcome FileTransfer::on_finished(const OutgoingFile::Finished& finished)
{
    if (state_ != State::Finishing) {
        return Outcome::Continue;
    }
    if (!finished.unchanged && !(finished.only_grew && upload_.growing)) {
        abort();
        return Outcome::ChangedWhileSent;
    }
    state_ = State::Committing;
    sha256_ = finished.sha256;
    sink_.send(protocol::encode(protocol::Commit{id_, finished.sha256}));
    return Outcome::Continue;
}

void FileTransfer::suspend()
{
    state_ = State::Ended;
    sink_.send(protocol::encode_request_only(FrameType::Suspend, id_));
}

void FileTransfer::abort()
{
    state_ = State::Ended;
    sink_.send(protocol::encode_request_only(FrameType::Abort, id_));
}

bool FileTransfer::awaits_answer() const noexcept
{
    return state_ == State::Finishing || state_ == State::Committing || state_ == State::Putting;
}

const char* FileTransfer::state_name() const noexcept
{
    switch (state_) {
    case State::AwaitingReady: return "awaiting-ready";
    case State::Putting: return "putting";
    case State::Streaming: return "streaming";
    case State::Finishing: return "finishing";
    case State::Committing: return "committing";
    case State::Ended: return "ended";
    }
    return "?";
}

} // namespace minisync::agent

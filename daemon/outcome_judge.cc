// The meaning of every outcome, one place for each.
#include "outcome_judge.h"

#include "retry_queue.h"

#include <spdlog/spdlog.h>

#include <chrono>

namespace minisync::agent {
namespace {

using protocol::ErrorCode;

bool worth_retrying(ErrorCode code)
{
    // CONFLICT is retried: a directory in the way on the server goes once its contents are removed.
    switch (code) {
    case ErrorCode::BadPath:
    case ErrorCode::FileTooLarge: // until the file changes, which queues it anew
    case ErrorCode::PermissionDenied:
    case ErrorCode::NotAllowed: return false;
    default: return true;
    }
}

// For a rename: whether the same RENAME may succeed later. BUSY (another connection of this client is
// writing a path of it) and server-side failures may pass; NOT_FOUND, CONFLICT and a refused path will not.
bool rename_may_pass(ErrorCode code)
{
    switch (code) {
    case ErrorCode::NotFound:
    case ErrorCode::Conflict: return false;
    default: return worth_retrying(code);
    }
}

} // namespace

Verdict OutcomeJudge::judge(Job& job, Outcome outcome)
{
    if (job.item.kind == SyncItem::Kind::Rename) {
        return judge_rename(job, outcome);
    }
    const std::string& folder = folders_[job.item.folder].spec.name;
    switch (outcome) {
    case Outcome::Continue:
    case Outcome::Invalid: return Verdict::Continue;
    case Outcome::Ready:
        if (const std::uint64_t resumed = job.transfer->resumed_at(); resumed > 0) {
            ledger_.resumed(resumed);
            SPDLOG_INFO("folder={} path={}: resuming at byte {} of {}", folder, job.item.path, resumed,
                        job.transfer->size());
        }
        return Verdict::Continue;
    case Outcome::Progressed: ledger_.progressed(job); return Verdict::Continue;
    case Outcome::Acknowledged:
        if (job.item.kind == SyncItem::Kind::Remove) {
            ledger_.removed(job);
            SPDLOG_INFO("folder={} path={}: removed{}", folder, job.item.path,
                        job.item.tree ? " with all below it" : "");
        } else if (job.transfer != nullptr) {
            ledger_.committed(job);
            SPDLOG_INFO("folder={} path={}: synced ({} bytes)", folder, job.item.path, job.transfer->size());
        } else {
            ledger_.committed(job);
            SPDLOG_DEBUG("folder={} path={}: directory or symlink synced", folder, job.item.path);
        }
        return Verdict::Done;
    case Outcome::AlreadyHeld:
        ledger_.already_held(job);
        SPDLOG_DEBUG("folder={} path={}: server already has it", folder, job.item.path);
        return Verdict::Done;
    case Outcome::HashWanted:
        // Its hash decides whether the server's file of the same size is this one: asked again with it.
        SPDLOG_DEBUG("folder={} path={}: server has a file of this size; offering the hash", folder, job.item.path);
        job.item.hash_requested = true;
        return Verdict::Requeue;
    case Outcome::Refused: return judge_refusal(job);
    case Outcome::OffsetRefused:
        SPDLOG_WARN("folder={} path={}: server offered another offset than the {} this agent asked for", folder,
                    job.item.path, job.transfer->upload().resume_offset);
        return Verdict::RetryLater;
    case Outcome::ReadFailed:
        ledger_.read_failed();
        SPDLOG_INFO("folder={} path={}: {}; sending it again once it settles", folder, job.item.path,
                    job.request->error().message);
        return Verdict::RetryLater;
    case Outcome::ChangedWhileSent:
        // A writer that closes the file queues it again at once (its close-write event marks this job);
        // one that keeps it open and busy is retried only after a pause, not in a hot loop of whole-file
        // reads.
        SPDLOG_INFO("folder={} path={}: changed while being sent; sending it again once it settles", folder,
                    job.item.path);
        // If its close-write has sent it meanwhile, the retry costs a hash, not a transfer.
        job.item.verify_first = true;
        job.item.hash_requested = true;
        return Verdict::RetryLater;
    }
    return Verdict::Continue;
}

Verdict OutcomeJudge::judge_refusal(Job& job)
{
    const std::string& folder = folders_[job.item.folder].spec.name;
    const Error& error = job.request->error();
    ledger_.refused();
    if (error.code == ErrorCode::Conflict && job.item.kind == SyncItem::Kind::Upload) {
        // A directory where this file goes: the agent has a file there, so the server's tree is stale. It
        // is removed first (the removal sends the file once it is done).
        SPDLOG_INFO("folder={} path={}: a directory is in the way on the server; replacing it", folder,
                    job.item.path);
        jobs_.retarget(job, SyncItem::Kind::Remove, true);
        return Verdict::Requeue;
    }
    const bool retry = worth_retrying(error.code);
    ledger_.failed(folder + "/" + job.item.path, "server error: " + error.message);
    SPDLOG_WARN("folder={} path={}: server refused it{} err={} ({})", folder, job.item.path,
                retry ? ", retried in 5 s" : "", error.message, protocol::to_string(error.code));
    return retry ? Verdict::RetryLater : Verdict::Done;
}

Verdict OutcomeJudge::judge_rename(Job& job, Outcome outcome)
{
    const std::string& folder = folders_[job.item.folder].spec.name;
    if (outcome == Outcome::Acknowledged) {
        SPDLOG_INFO("folder={} path={}: renamed from {}", folder, job.item.path, job.item.from);
        ledger_.renamed(job);
        return Verdict::RenameApplied;
    }
    if (outcome != Outcome::Refused) {
        return Verdict::Continue;
    }
    const Error& error = job.request->error();
    if (rename_may_pass(error.code) && job.item.rename_retries < MaxRenameRetries) {
        // The server still holds the old path: sending the rename again keeps it a rename, where giving up
        // would cost a transfer of everything below the new path.
        ++job.item.rename_retries;
        const auto wait = RetryQueue::RetryDelay * RetryQueue::backoff_rounds(job.item.rename_retries);
        ledger_.refused();
        ledger_.failed(folder + "/" + job.item.path, "server error: " + error.message);
        SPDLOG_WARN("folder={} path={}: rename from {} not applied, retried in about {} s ({} of {}) err={} ({})",
                    folder, job.item.path, job.item.from,
                    std::chrono::duration_cast<std::chrono::seconds>(wait).count(), job.item.rename_retries,
                    MaxRenameRetries, error.message, protocol::to_string(error.code));
        return Verdict::RetryLater;
    }
    // Nothing there (never sent, or already moved), something in the way, a path refused, or an error
    // that did not pass: the new path is sent as new, and the old one stays on the server until the new
    // one is in place (RenameFallback).
    SPDLOG_INFO("folder={} path={}: rename from {} not applied ({}: {}); sending the new path as new", folder,
                job.item.path, job.item.from, protocol::to_string(error.code), error.message);
    return Verdict::RenameNotApplied;
}

} // namespace minisync::agent

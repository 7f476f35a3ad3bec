// The state database records and the counts that follow the server's answers.
#include "request_ledger.h"

#include "entry_request.h"

namespace minisync::agent {

void RequestLedger::committed(const Job& job)
{
    count_acknowledged(job, true);
    StateChange change;
    change.kind = StateChange::Kind::Committed;
    change.folder_id = folders_[job.item.folder].state_id;
    change.path = job.item.path;
    if (job.transfer != nullptr) {
        change.version = job.transfer->upload().version;
        change.mode = job.transfer->upload().mode;
        change.sha256 = job.transfer->sha256().value_or(Sha256Digest{});
        change.entry = EntryKind::File;
    } else if (const auto* entry_request = dynamic_cast<const EntryRequest*>(job.request.get())) {
        const EntryRequest::Entry& entry = entry_request->entry();
        change.version = entry.version;
        change.mode = entry.mode;
        change.entry = entry.kind;
    }
    state_.record(std::move(change));
}

void RequestLedger::already_held(const Job& job)
{
    if (job.transfer->sha256()) {
        committed(job);
    } else {
        count_acknowledged(job, true);
    }
}

void RequestLedger::removed(const Job& job)
{
    ++stats_.files_removed;
    count_acknowledged(job, false);
    StateChange change;
    change.kind = job.item.tree ? StateChange::Kind::ForgottenTree : StateChange::Kind::Forgotten;
    change.folder_id = folders_[job.item.folder].state_id;
    change.path = job.item.path;
    state_.record(std::move(change));
}

void RequestLedger::renamed(const Job& job)
{
    count_acknowledged(job, true);
}

void RequestLedger::progressed(const Job& job)
{
    StateChange change;
    change.kind = StateChange::Kind::Progress;
    change.folder_id = folders_[job.item.folder].state_id;
    change.path = job.item.path;
    change.version = job.transfer->upload().version;
    change.offset = job.transfer->confirmed_offset();
    state_.record(std::move(change));
}

void RequestLedger::sent(std::uint64_t bytes)
{
    stats_.bytes_sent += bytes;
    metrics_.bytes_sent.Increment(static_cast<double>(bytes));
}

void RequestLedger::resumed(std::uint64_t bytes)
{
    stats_.resumed_bytes += bytes;
    metrics_.resumed_bytes.Increment(static_cast<double>(bytes));
}

void RequestLedger::open_failed(const std::string& where, const std::string& error)
{
    ++stats_.failures;
    metrics_.error(ErrorKind::Read);
    failed(where, error);
}

void RequestLedger::read_failed()
{
    metrics_.error(ErrorKind::Read);
}

void RequestLedger::refused()
{
    ++stats_.failures;
    metrics_.error(ErrorKind::Server);
}

void RequestLedger::failed(const std::string& where, const std::string& error)
{
    last_error_ = where + ": " + error;
}

void RequestLedger::count_acknowledged(const Job& job, bool entry_synced)
{
    if (entry_synced) {
        ++stats_.files_synced;
        metrics_.files_synced.Increment();
    }
    if (!job.item.settle) {
        metrics_.synced_after(job.item.seen);
    }
}

} // namespace minisync::agent

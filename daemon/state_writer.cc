// Time- and size-bounded batching of state writes.
#include "state_writer.h"

#include "must_succeed.h"

#include <spdlog/spdlog.h>

namespace minisync::agent {
namespace {

// A change waits at most this long, so a kill -9 loses a fraction of a second of bookkeeping.
constexpr timeval FlushDelay{0, 200'000};
constexpr std::size_t MaxBatch = 2000;

} // namespace

StateWriter::StateWriter(event_base* base, LoopInbox& inbox, WorkerPool& pool, std::shared_ptr<StateStore> store,
                         AgentMetrics& metrics)
    : inbox_{inbox},
      metrics_{metrics},
      store_{std::move(store)},
      strand_{Strand::create(pool)},
      timer_{evtimer_new(base, &StateWriter::on_timer, this)}
{
    must_succeed(timer_ != nullptr, "evtimer_new");
}

void StateWriter::record(StateChange change)
{
    pending_.push_back(std::move(change));
    if (pending_.size() >= MaxBatch) {
        flush();
    } else if (evtimer_pending(timer_.get(), nullptr) == 0) {
        must_succeed(evtimer_add(timer_.get(), &FlushDelay) == 0, "evtimer_add");
    }
}

void StateWriter::flush()
{
    must_succeed(evtimer_del(timer_.get()) == 0, "evtimer_del");
    if (pending_.empty()) {
        return;
    }
    auto batch = std::make_shared<const std::vector<StateChange>>(std::exchange(pending_, {}));
    const std::uint64_t id = next_batch_++;
    unconfirmed_.emplace(id, batch);
    strand_->post([this, &inbox = inbox_, store = store_, batch, id] {
        Result<void> written = store->apply(*batch);
        inbox.post([this, id, written = std::move(written)] {
            unconfirmed_.erase(id);
            if (!written.ok()) {
                metrics_.error(ErrorKind::State);
                SPDLOG_ERROR("{}; the next start-up rescan makes up for it", written.error().message);
            }
        });
    });
}

void StateWriter::load_folder(std::int64_t folder_id,
                              std::function<void(std::shared_ptr<const FolderRecords>)> done)
{
    load(folder_id, std::nullopt, std::move(done));
}

void StateWriter::load_subtree(std::int64_t folder_id, std::string path,
                               std::function<void(std::shared_ptr<const FolderRecords>)> done)
{
    load(folder_id, std::move(path), std::move(done));
}

void StateWriter::load(std::int64_t folder_id, std::optional<std::string> subtree,
                       std::function<void(std::shared_ptr<const FolderRecords>)> done)
{
    flush();
    // Behind every batch already handed to the strand, so the records include them.
    strand_->post([this, &inbox = inbox_, store = store_, folder_id, subtree = std::move(subtree),
                   done = std::move(done)]() mutable {
        Result<FolderRecords> loaded = subtree ? store->load_subtree(folder_id, *subtree) : store->load_folder(folder_id);
        inbox.post([this, loaded = std::move(loaded), done = std::move(done)]() mutable {
            if (loaded.ok()) {
                done(std::make_shared<const FolderRecords>(std::move(loaded).value()));
                return;
            }
            // No records is the safe answer: what is not known is never removed from the server, and every
            // file there is hashed and offered again, which the server answers without a transfer when it
            // has the same content.
            metrics_.error(ErrorKind::State);
            SPDLOG_ERROR("{}; nothing there is removed from the server, and every file is checked against it again",
                         loaded.error().message);
            done(std::make_shared<const FolderRecords>());
        });
    });
}

void StateWriter::open_folder(std::string name, std::function<void(Result<StoredFolder>)> done)
{
    strand_->post([this, &inbox = inbox_, store = store_, name = std::move(name), done = std::move(done)]() mutable {
        Result<StoredFolder> folder = store->open_folder(name);
        inbox.post([this, folder = std::move(folder), done = std::move(done)]() mutable {
            if (!folder.ok()) {
                metrics_.error(ErrorKind::State);
            }
            done(std::move(folder));
        });
    });
}

void StateWriter::record_root(std::int64_t folder_id, RootIdentity identity)
{
    strand_->post([this, &inbox = inbox_, store = store_, folder_id, identity] {
        Result<void> written = store->set_root_identity(folder_id, identity);
        if (!written.ok()) {
            inbox.post([this, error = written.error()] {
                metrics_.error(ErrorKind::State);
                SPDLOG_ERROR("{}", error.message);
            });
        }
    });
}

void StateWriter::write_remaining()
{
    for (const auto& [id, batch] : std::exchange(unconfirmed_, {})) {
        // A batch whose completion was only lost in the queue is written twice. Every change but a rename
        // is an upsert; a rename replayed forgets the records it moved, which costs the next start-up a hash
        // of those files, nothing more.
        if (Result<void> written = store_->apply(*batch); !written.ok()) {
            SPDLOG_ERROR("{}", written.error().message);
        }
    }
    if (Result<void> written = store_->apply(std::exchange(pending_, {})); !written.ok()) {
        SPDLOG_ERROR("{}", written.error().message);
    }
}

} // namespace minisync::agent

// Indexing of the jobs in flight and the rules that make an item wait for them.
#include "job_table.h"

#include <algorithm>

namespace minisync::agent {
namespace {

// A rename or a tree removal covers everything below its paths, on the server too (its path locks).
bool is_wide(const SyncItem& item)
{
    return item.kind == SyncItem::Kind::Rename || (item.kind == SyncItem::Kind::Remove && item.tree);
}

} // namespace

std::string JobTable::key_of(const SyncItem& item)
{
    std::string key = std::to_string(item.folder);
    key.push_back('\0');
    key += item.path;
    return key;
}

Job& JobTable::add(SyncItem item)
{
    const std::uint64_t id = next_id_++;
    Job job;
    job.id = id;
    job.key = key_of(item);
    job.item = std::move(item);
    by_path_.emplace(job.key, id);
    wide_jobs_ += is_wide(job.item) ? 1 : 0;
    return jobs_.emplace(id, std::move(job)).first->second;
}

void JobTable::attach(Job& job, std::unique_ptr<Request> request)
{
    by_request_.emplace(request->id(), job.id);
    job.request = std::move(request);
}

void JobTable::attach(Job& job, std::unique_ptr<FileTransfer> transfer)
{
    job.transfer = transfer.get();
    attach(job, std::unique_ptr<Request>{std::move(transfer)});
}

Job* JobTable::find(std::uint64_t id)
{
    const auto it = jobs_.find(id);
    return it == jobs_.end() ? nullptr : &it->second;
}

Job* JobTable::find_by_path(const SyncItem& item)
{
    const auto it = by_path_.find(key_of(item));
    return it == by_path_.end() ? nullptr : &jobs_.at(it->second);
}

Job* JobTable::find_by_request(std::uint32_t request_id)
{
    const auto it = by_request_.find(request_id);
    return it == by_request_.end() ? nullptr : &jobs_.at(it->second);
}

Job JobTable::take(std::uint64_t id)
{
    const auto it = jobs_.find(id);
    Job job = std::move(it->second);
    jobs_.erase(it);
    wide_jobs_ -= is_wide(job.item) ? 1 : 0;
    by_path_.erase(job.key);
    if (job.request != nullptr) {
        by_request_.erase(job.request->id());
    }
    return job;
}

std::vector<Job> JobTable::take_all()
{
    std::vector<Job> all;
    all.reserve(jobs_.size());
    for (auto& [id, job] : jobs_) {
        all.push_back(std::move(job));
    }
    jobs_.clear();
    by_path_.clear();
    by_request_.clear();
    wide_jobs_ = 0;
    return all;
}

bool JobTable::must_wait(const SyncItem& item) const
{
    // The common case, a file among hundreds in flight, decided without walking them all.
    if (wide_jobs_ == 0 && !is_wide(item) && !item.settle) {
        return false;
    }
    const bool is_rename = item.kind == SyncItem::Kind::Rename;
    for (const auto& [id, job] : jobs_) {
        if (job.item.folder != item.folder) {
            continue;
        }
        if (item.settle && job.item.path.size() > item.path.size() && paths_overlap(job.item.path, item.path)) {
            return true; // what runs below would move the mtime being set
        }
        const bool job_is_rename = job.item.kind == SyncItem::Kind::Rename;
        if (!is_wide(item) && !is_wide(job.item)) {
            continue; // one path each: a job on the same path absorbs the item instead
        }
        const SyncItem& running = job.item; // clang 14 cannot capture a structured binding
        auto touches = [&](const std::string& path) {
            return paths_overlap(path, running.path) || (job_is_rename && paths_overlap(path, running.from));
        };
        if (touches(item.path) || (is_rename && touches(item.from))) {
            return true;
        }
    }
    return false;
}

bool JobTable::any_below(const Job& job) const
{
    return std::any_of(jobs_.begin(), jobs_.end(), [&](const auto& entry) {
        const SyncItem& other = entry.second.item;
        return entry.first != job.id && other.folder == job.item.folder && other.path.size() > job.item.path.size() &&
               paths_overlap(other.path, job.item.path);
    });
}

void JobTable::retarget(Job& job, SyncItem::Kind kind, bool tree)
{
    wide_jobs_ -= is_wide(job.item) ? 1 : 0;
    job.item.kind = kind;
    job.item.tree = tree;
    wide_jobs_ += is_wide(job.item) ? 1 : 0;
}

} // namespace minisync::agent

// FIFO with de-duplication by (folder, path), and the folding of work into renames.
#include "sync_queue.h"

#include <algorithm>
#include <unordered_set>
#include <vector>

namespace minisync::agent {

SyncItem removal_item(std::size_t folder, std::string path, bool tree)
{
    SyncItem item;
    item.folder = folder;
    item.path = std::move(path);
    item.kind = SyncItem::Kind::Remove;
    item.tree = tree;
    return item;
}

bool paths_overlap(const std::string& a, const std::string& b)
{
    const std::string& shorter = a.size() <= b.size() ? a : b;
    const std::string& longer = a.size() <= b.size() ? b : a;
    return longer.starts_with(shorter) && (longer.size() == shorter.size() || longer[shorter.size()] == '/');
}

std::string SyncQueue::key_of(std::size_t folder, const std::string& path)
{
    std::string key = std::to_string(folder);
    key.push_back('\0');
    key += path;
    return key;
}

void SyncQueue::append(std::string key, SyncItem item)
{
    items_.emplace(key, std::move(item));
    order_.push_back(std::move(key));
}

void SyncQueue::push(SyncItem item)
{
    if (item.kind == SyncItem::Kind::Rename) {
        push_rename(std::move(item));
        return;
    }
    std::string key = key_of(item.folder, item.path);
    if (const auto it = items_.find(key); it != items_.end()) {
        SyncItem& queued = it->second;
        if (item.seen != std::chrono::steady_clock::time_point{} &&
            (queued.seen == std::chrono::steady_clock::time_point{} || item.seen < queued.seen)) {
            queued.seen = item.seen;
        }
        if (queued.kind == SyncItem::Kind::Rename) {
            return; // the comparison after the rename sees this change too
        }
        // An event after a scan means the content changed: hashing first would only cost a read.
        queued.verify_first = queued.kind == item.kind && queued.verify_first && item.verify_first;
        queued.hash_requested = queued.verify_first && queued.hash_requested && item.hash_requested;
        queued.growing = queued.growing && item.growing;
        queued.settle = queued.settle && item.settle;
        // Once a directory went, the server's tree there must go, whatever came after: a tree removal
        // stays one (it sends the file if one is back), and a later file removal does not narrow it.
        if (queued.kind == SyncItem::Kind::Remove && queued.tree) {
            return;
        }
        queued.tree = item.kind == SyncItem::Kind::Remove && item.tree;
        queued.kind = item.kind;
        if (item.resume) {
            queued.resume = item.resume;
        }
        return;
    }
    append(std::move(key), std::move(item));
}

void SyncQueue::push_rename(SyncItem rename)
{
    std::vector<SyncItem> removals;
    std::unordered_set<std::string> dropped;
    // Work queued at or below the old path is dropped; a rename among it is folded in instead, so the
    // server's copy under that rename's old path is not forgotten.
    for (auto it = items_.begin(); it != items_.end();) {
        SyncItem& queued = it->second;
        if (queued.folder != rename.folder || !paths_overlap(queued.path, rename.from) ||
            queued.path.size() < rename.from.size()) {
            ++it;
            continue;
        }
        if (queued.kind == SyncItem::Kind::Rename) {
            if (queued.path == rename.from) {
                // a then b, b then c: a then c; and what a replaced at b on the server must go.
                removals.push_back(removal_item(rename.folder, rename.from, true));
                rename.from = queued.from;
            } else {
                removals.push_back(removal_item(queued.folder, queued.from, queued.tree));
            }
        }
        dropped.insert(it->first);
        it = items_.erase(it);
    }
    if (!dropped.empty()) {
        std::erase_if(order_, [&](const std::string& key) { return dropped.contains(key); });
    }
    std::string key = key_of(rename.folder, rename.path);
    if (const auto it = items_.find(key); it != items_.end()) {
        if (it->second.kind == SyncItem::Kind::Rename) {
            // Two renames onto one path: the first one's source still has to go on the server.
            removals.push_back(removal_item(it->second.folder, it->second.from, it->second.tree));
        }
        it->second = std::move(rename);
    } else {
        append(std::move(key), std::move(rename));
    }
    for (SyncItem& removal : removals) {
        push(std::move(removal));
    }
}

std::size_t SyncQueue::count(std::size_t folder) const
{
    return static_cast<std::size_t>(std::count_if(items_.begin(), items_.end(),
                                                   [folder](const auto& entry) { return entry.second.folder == folder; }));
}

bool SyncQueue::touches(std::size_t folder, const std::string& path) const
{
    return std::any_of(items_.begin(), items_.end(), [&](const auto& entry) {
        const SyncItem& item = entry.second;
        return item.folder == folder && (paths_overlap(item.path, path) ||
                                         (item.kind == SyncItem::Kind::Rename && paths_overlap(item.from, path)));
    });
}

void SyncQueue::drop_folder(std::size_t folder)
{
    std::erase_if(order_, [this, folder](const std::string& key) {
        const auto item = items_.find(key);
        if (item == items_.end() || item->second.folder != folder) {
            return false;
        }
        items_.erase(item);
        return true;
    });
}

const SyncItem* SyncQueue::front() const
{
    return order_.empty() ? nullptr : &items_.at(order_.front());
}

std::optional<SyncItem> SyncQueue::pop()
{
    if (order_.empty()) {
        return std::nullopt;
    }
    const auto it = items_.find(order_.front());
    SyncItem item = std::move(it->second);
    items_.erase(it);
    order_.pop_front();
    return item;
}

} // namespace minisync::agent

// FIFO with de-duplication by (folder, path).
#include "sync_queue.h"

namespace minisync::agent {

std::string SyncQueue::key_of(std::size_t folder, const std::string& path)
{
    std::string key = std::to_string(folder);
    key.push_back('\0');
    key += path;
    return key;
}

void SyncQueue::push(SyncItem item)
{
    std::string key = key_of(item.folder, item.path);
    if (const auto it = items_.find(key); it != items_.end()) {
        SyncItem& queued = it->second;
        // An event after a scan means the content changed: hashing first would only cost a read.
        queued.verify_first = queued.kind == item.kind && queued.verify_first && item.verify_first;
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
    items_.emplace(key, std::move(item));
    order_.push_back(std::move(key));
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

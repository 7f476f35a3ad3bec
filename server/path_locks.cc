// Lease bookkeeping for per-path strands.
#include "path_locks.h"

namespace minisync::server {

std::optional<PathLocks::Lease> PathLocks::acquire(const std::string& key, bool whole_tree)
{
    // Client and folder names hold no '/', so every '/' in the key ends the key of a directory above.
    for (std::size_t slash = key.find('/'); slash != std::string::npos; slash = key.find('/', slash + 1)) {
        const auto above = entries_.find(key.substr(0, slash));
        if (above != entries_.end() && above->second.held && above->second.whole_tree) {
            return std::nullopt;
        }
    }
    if (whole_tree) {
        const std::string below = key + "/";
        for (auto it = entries_.lower_bound(below); it != entries_.end() && it->first.starts_with(below); ++it) {
            if (it->second.held) {
                return std::nullopt;
            }
        }
    }
    auto [it, inserted] = entries_.try_emplace(key);
    Entry& entry = it->second;
    if (!inserted && entry.held) {
        return std::nullopt;
    }
    if (inserted) {
        entry.strand = Strand::create(pool_);
    }
    entry.held = true;
    entry.whole_tree = whole_tree;
    entry.generation = next_generation_++;
    return Lease{entry.strand, entry.generation};
}

std::vector<std::shared_ptr<Strand>> PathLocks::strands_below(const std::string& key) const
{
    std::vector<std::shared_ptr<Strand>> strands;
    const std::string below = key + "/";
    for (auto it = entries_.lower_bound(below); it != entries_.end() && it->first.starts_with(below); ++it) {
        strands.push_back(it->second.strand);
    }
    return strands;
}

void PathLocks::release(const std::string& key, std::uint64_t generation)
{
    const auto it = entries_.find(key);
    if (it == entries_.end() || it->second.generation != generation) {
        return;
    }
    it->second.held = false;
    // Runs after everything already queued on the strand; only then is the path free of old work.
    it->second.strand->post([this, &inbox = inbox_, key, generation] {
        inbox.post([this, key, generation] {
            const auto entry = entries_.find(key);
            if (entry != entries_.end() && entry->second.generation == generation && !entry->second.held) {
                entries_.erase(entry);
            }
        });
    });
}

} // namespace minisync::server

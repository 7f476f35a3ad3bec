// Comparison of scanned versions with recorded ones.
#include "reconcile.h"

#include <unordered_set>

namespace minisync::agent {
namespace {

// True when nothing can be said about path: a directory above it could not be read.
bool below_failed_dir(const std::string& path, const std::set<std::string>& failed_dirs)
{
    if (failed_dirs.empty()) {
        return false;
    }
    if (failed_dirs.contains("")) {
        return true;
    }
    for (std::size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1)) {
        if (failed_dirs.contains(path.substr(0, slash))) {
            return true;
        }
    }
    return false;
}

} // namespace

ReconcilePlan reconcile(const FolderScan& scan, const FolderRecords& known, const ExcludeFilter& excludes)
{
    ReconcilePlan plan;
    std::unordered_set<std::string_view> seen;
    seen.reserve(scan.entries.size());
    for (const ScannedEntry& entry : scan.entries) {
        seen.insert(entry.path);
        const auto it = known.find(entry.path);
        SyncItem item;
        item.path = entry.path;
        if (it == known.end()) {
            // The server may hold a file from an earlier life of this database: hashing first avoids a transfer.
            item.verify_first = entry.kind == EntryKind::File;
            plan.uploads.push_back(std::move(item));
            continue;
        }
        const FileRecord& record = it->second;
        if (record.kind != entry.kind) {
            plan.uploads.push_back(std::move(item));
            continue;
        }
        if (entry.kind == EntryKind::File && record.uploading && *record.uploading == entry.version &&
            record.confirmed_offset > 0) {
            item.resume = ResumeHint{entry.version, record.confirmed_offset};
            plan.uploads.push_back(std::move(item));
            continue;
        }
        if (record.committed && *record.committed == entry.version) {
            if (record.mode == entry.mode || entry.kind == EntryKind::Symlink) {
                ++plan.unchanged;
                continue;
            }
            item.verify_first = entry.kind == EntryKind::File; // a chmod: applied without a transfer
            plan.uploads.push_back(std::move(item));
            continue;
        }
        // Same size: possibly the same bytes (a touch, a rewrite with equal content); hashing decides.
        item.verify_first =
            entry.kind == EntryKind::File && record.committed && record.committed->size == entry.version.size;
        plan.uploads.push_back(std::move(item));
    }
    if (!scan.complete) {
        return plan;
    }
    // Only a whole folder can look unmounted; a path inside one that is gone is simply gone.
    if (scan.whole_folder && scan.entries.empty() && scan.listed_dirs.size() <= 1 && !known.empty()) {
        plan.withheld_removals = true;
        return plan;
    }
    for (const auto& [path, record] : known) {
        if (seen.contains(path) || excludes.excluded(path) || below_failed_dir(path, scan.failed_dirs) ||
            below_failed_dir(path, scan.mount_points) || scan.mount_points.contains(path) ||
            scan.failed_dirs.contains(path)) {
            continue;
        }
        SyncItem removal;
        removal.path = path;
        removal.kind = SyncItem::Kind::Remove;
        removal.tree = record.kind == EntryKind::Directory;
        plan.removals.push_back(std::move(removal));
    }
    return plan;
}

} // namespace minisync::agent

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
    seen.reserve(scan.files.size());
    for (const ScannedFile& file : scan.files) {
        seen.insert(file.path);
        const auto it = known.find(file.path);
        SyncItem item;
        item.path = file.path;
        if (it == known.end()) {
            item.verify_first = true; // the server may hold it from an earlier life of this database
            plan.uploads.push_back(std::move(item));
            continue;
        }
        const FileRecord& record = it->second;
        if (record.uploading && *record.uploading == file.version && record.confirmed_offset > 0) {
            item.resume = ResumeHint{file.version, record.confirmed_offset};
            plan.uploads.push_back(std::move(item));
            continue;
        }
        if (record.committed && *record.committed == file.version) {
            if (record.mode == file.mode) {
                ++plan.unchanged;
                continue;
            }
            item.verify_first = true; // a chmod: the server applies the mode without a transfer
            plan.uploads.push_back(std::move(item));
            continue;
        }
        // Same size: possibly the same bytes (a touch, a rewrite with equal content); hashing decides.
        item.verify_first = record.committed && record.committed->size == file.version.size;
        plan.uploads.push_back(std::move(item));
    }
    if (!scan.complete) {
        return plan;
    }
    if (scan.files.empty() && scan.listed_dirs.size() <= 1 && !known.empty()) {
        plan.withheld_removals = true;
        return plan;
    }
    for (const auto& [path, record] : known) {
        if (seen.contains(path) || excludes.excluded(path) || below_failed_dir(path, scan.failed_dirs)) {
            continue;
        }
        plan.removals.push_back(path);
    }
    return plan;
}

} // namespace minisync::agent

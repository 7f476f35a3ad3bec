// Start-up reconciliation: what a scan of a folder and the state database say must be sent or removed.
// Pure logic over the scan's result; stat data decides, and only files whose version is unknown or
// changed are ever read again.
#pragma once

#include "entry_kind.h"
#include "exclude_filter.h"
#include "file_version.h"
#include "state_store.h"
#include "sync_queue.h"

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace minisync::agent {

// A file, directory or symlink found by a scan. A directory's version has size 0 (its st_size means
// nothing portable); a symlink's size is the length of its target.
struct ScannedEntry {
    std::string path;
    FileVersion version;
    std::uint32_t mode = 0;
    EntryKind kind = EntryKind::File;
};

struct FolderScan {
    std::vector<ScannedEntry> entries; // parents before what they hold
    std::set<std::string> listed_dirs; // relative paths of directories read to the end ("" is the root)
    std::set<std::string> failed_dirs; // could not be read: nothing below them is known
    std::set<std::string> mount_points; // other file systems: they and what is below them are left alone
    bool complete = false;             // the walk was not cut short
    bool whole_folder = true;          // started at the folder's root, not at a path inside it
};

struct ReconcilePlan {
    std::vector<SyncItem> uploads; // folder index left 0 for the caller to set
    std::vector<SyncItem> removals; // kind Remove; a directory's is a tree removal
    std::size_t unchanged = 0;
    // The folder looked empty while the database remembers files: an unmounted file system looks like
    // this, so deletions are not propagated from such a scan.
    bool withheld_removals = false;
};

// known holds the records of the scanned subtree (the whole folder when the scan started at its root).
ReconcilePlan reconcile(const FolderScan& scan, const FolderRecords& known, const ExcludeFilter& excludes);

} // namespace minisync::agent

// Walks a directory subtree on a worker thread: watches every directory before listing it, so a file
// created during the walk is either listed or reported by inotify, never missed.
#pragma once

#include "exclude_filter.h"
#include "folder_root.h"
#include "reconcile.h"
#include "watch_table.h"

#include <atomic>
#include <cstddef>
#include <string>
#include <vector>

namespace minisync::agent {

struct ScanResult {
    FolderScan scan;
    std::size_t directories = 0;
    bool watch_limit_reached = false;
    std::vector<std::string> errors;
    std::vector<std::string> skipped; // FIFOs, sockets, devices: never synced
    // The directory at the root's path is not the root's identity: nothing was scanned.
    bool root_replaced = false;
};

// root.path is absolute; start is relative to it ("" for the whole folder). Every file, directory and
// symlink below start is an entry, and so is start itself unless it is the root; a start that is not a
// directory is the only entry. Symlinks are not followed, and unless root.mounts is Cross neither are
// mount points: a directory on another file system is not an entry, nor is what it holds (it is listed in
// scan.mount_points instead). The walk ends early, incomplete, once stop is set.
ScanResult scan_tree(WatchTable& watches, const ExcludeFilter& excludes, std::size_t folder, const FolderRoot& root,
                     const std::string& start, const std::atomic<bool>& stop);

} // namespace minisync::agent

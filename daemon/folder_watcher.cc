// inotify event decoding and the dispatch of subtree scans.
#include "folder_watcher.h"

#include "reconcile.h"
#include "tree_scanner.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace minisync::agent {

FolderWatcher::FolderWatcher(event_base* base, LoopInbox& inbox, WorkerPool& pool,
                             const std::vector<FolderSpec>& folders, std::shared_ptr<const ExcludeFilter> excludes,
                             ChangeSink sink, RecordsLoader load_records)
    : inbox_{inbox},
      pool_{pool},
      folders_{folders},
      excludes_{std::move(excludes)},
      sink_{std::move(sink)},
      load_records_{std::move(load_records)},
      watches_{std::make_shared<WatchTable>()},
      read_event_{event_new(base, watches_->inotify_fd(), EV_READ | EV_PERSIST, &FolderWatcher::on_readable, this)}
{
    if (!read_event_) {
        throw std::runtime_error("event_new failed for the inotify descriptor");
    }
}

void FolderWatcher::start(std::vector<std::shared_ptr<const FolderRecords>> known)
{
    event_add(read_event_.get(), nullptr);
    for (std::size_t folder = 0; folder < folders_.size(); ++folder) {
        scan(folder, "", true, folder < known.size() ? std::move(known[folder]) : nullptr);
    }
}

void FolderWatcher::stop()
{
    event_del(read_event_.get());
}

void FolderWatcher::scan(std::size_t folder, std::string start, bool verify_first,
                         std::shared_ptr<const FolderRecords> known)
{
    ++scans_running_;
    // The worker touches only what it owns a share of; `this` is used back on the loop thread alone.
    pool_.post([this, &inbox = inbox_, &stop = pool_.stop_requested(), watches = watches_, excludes = excludes_,
                folder, root = folders_[folder].path, start = std::move(start), verify_first,
                known = std::move(known)] {
        ScanResult result = scan_tree(*watches, *excludes, folder, root, start, stop);
        ReconcilePlan plan;
        if (known) {
            plan = reconcile(result.scan, *known, *excludes);
        } else {
            for (ScannedFile& file : result.scan.files) {
                SyncItem item;
                item.path = std::move(file.path);
                item.verify_first = verify_first;
                plan.uploads.push_back(std::move(item));
            }
        }
        inbox.post([this, folder, result = std::move(result), plan = std::move(plan)]() mutable {
            finish_scan(folder, result, std::move(plan));
        });
    });
}

void FolderWatcher::finish_scan(std::size_t folder, const ScanResult& result, ReconcilePlan&& plan)
{
    --scans_running_;
    const std::string& name = folders_[folder].name;
    for (const std::string& error : result.errors) {
        SPDLOG_WARN("folder={}: {}", name, error);
    }
    if (result.watch_limit_reached && !watch_limit_reported_) {
        watch_limit_reported_ = true;
        SPDLOG_ERROR("folder={}: inotify watch limit reached; changes in some directories will be missed "
                     "until fs.inotify.max_user_watches is raised (sysctl)",
                     name);
    }
    if (plan.withheld_removals) {
        SPDLOG_WARN("folder={}: the folder is empty but the state database remembers files; not deleting them "
                    "on the server (is the file system mounted?)",
                    name);
    }
    if (result.scan.complete && result.scan.listed_dirs.contains("")) {
        SPDLOG_INFO("folder={}: scanned {} files in {} directories: {} unchanged, {} to send, {} to remove", name,
                    result.scan.files.size(), result.directories, plan.unchanged, plan.uploads.size(),
                    plan.removals.size());
    }
    for (SyncItem& item : plan.uploads) {
        item.folder = folder;
        sink_(std::move(item));
    }
    for (std::string& path : plan.removals) {
        SyncItem item;
        item.folder = folder;
        item.path = std::move(path);
        item.kind = SyncItem::Kind::Remove;
        sink_(std::move(item));
    }
}

void FolderWatcher::read_events()
{
    // Large enough for a burst, aligned as inotify(7) requires.
    alignas(inotify_event) static thread_local char buffer[64 * 1024];
    while (true) {
        const ssize_t n = ::read(watches_->inotify_fd(), buffer, sizeof buffer);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                SPDLOG_ERROR("reading inotify events failed: {} ({})", std::strerror(errno), errno);
            }
            if (errno != EINTR) {
                return;
            }
            continue;
        }
        for (ssize_t offset = 0; offset < n;) {
            const auto* event = reinterpret_cast<const inotify_event*>(buffer + offset);
            handle_event(*event);
            offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
        }
    }
}

void FolderWatcher::handle_event(const inotify_event& event)
{
    if ((event.mask & IN_Q_OVERFLOW) != 0) {
        ++overflows_;
        SPDLOG_WARN("inotify queue overflowed; rescanning every folder");
        // Events were lost, deletions among them: the rescan is reconciled with the state database,
        // exactly as at start-up.
        for (std::size_t folder = 0; folder < folders_.size(); ++folder) {
            load_records_(folder, [this, folder](std::shared_ptr<const FolderRecords> records) {
                scan(folder, "", true, std::move(records));
            });
        }
        return;
    }
    const std::optional<WatchedDir> dir = watches_->find(event.wd);
    if (!dir) {
        return;
    }
    if ((event.mask & IN_IGNORED) != 0) {
        watches_->forget(event.wd);
        return;
    }
    if ((event.mask & (IN_DELETE_SELF | IN_MOVE_SELF)) != 0) {
        if (dir->path.empty()) {
            SPDLOG_ERROR("folder={}: the watched folder '{}' was removed or moved away", folders_[dir->folder].name,
                         folders_[dir->folder].path);
        }
        return;
    }
    if (event.len == 0) {
        return;
    }
    const std::string name{event.name, ::strnlen(event.name, event.len)};
    std::string path = dir->path.empty() ? name : dir->path + "/" + name;
    if (excludes_->excluded(path)) {
        return;
    }
    if ((event.mask & IN_ISDIR) != 0) {
        if ((event.mask & (IN_CREATE | IN_MOVED_TO)) != 0) {
            // The new directory may already hold files created before its watch existed: scan it.
            scan(dir->folder, std::move(path), false, nullptr);
        } else if ((event.mask & (IN_DELETE | IN_MOVED_FROM)) != 0) {
            // Gone from here with everything in it. A move within the folder shows up again as
            // IN_MOVED_TO, whose scan watches the tree under its new name.
            if ((event.mask & IN_MOVED_FROM) != 0) {
                watches_->unwatch_tree(dir->folder, path);
            }
            SyncItem item;
            item.folder = dir->folder;
            item.path = std::move(path);
            item.kind = SyncItem::Kind::Remove;
            item.tree = true;
            sink_(std::move(item));
        }
        return;
    }
    SyncItem item;
    item.folder = dir->folder;
    item.path = std::move(path);
    if ((event.mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) != 0) {
        sink_(std::move(item));
    } else if ((event.mask & IN_ATTRIB) != 0) {
        // chmod or touch: the content is most likely what the server has, so offer the hash and let
        // the server apply the new mode and mtime without a transfer.
        item.verify_first = true;
        sink_(std::move(item));
    } else if ((event.mask & (IN_DELETE | IN_MOVED_FROM)) != 0) {
        // A rename within the folder arrives as this plus IN_MOVED_TO for the new name: mirrored as a
        // removal and an upload.
        item.kind = SyncItem::Kind::Remove;
        sink_(std::move(item));
    }
}

} // namespace minisync::agent

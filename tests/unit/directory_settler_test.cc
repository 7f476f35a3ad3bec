// DirectorySettler: which directories are settled again, in what order, and how a rename carries them.
#include "directory_settler.h"

#include <gtest/gtest.h>

namespace minisync::agent {
namespace {

std::vector<std::string> paths_of(const std::vector<SyncItem>& items)
{
    std::vector<std::string> paths;
    for (const SyncItem& item : items) {
        EXPECT_TRUE(item.settle);
        paths.push_back(std::to_string(item.folder) + ":" + item.path);
    }
    return paths;
}

TEST(DirectorySettlerTest, EveryDirectoryAboveAChangeIsSettledDeepestFirst)
{
    DirectorySettler settler;
    EXPECT_TRUE(settler.empty());
    settler.note_changed(0, "top.txt"); // the folder's root is not mirrored: nothing to settle
    EXPECT_TRUE(settler.empty());
    settler.note_changed(0, "a/b/c/file");
    settler.note_changed(0, "a/other");
    settler.note_changed(1, "x/y");
    EXPECT_EQ(paths_of(settler.take()), (std::vector<std::string>{"0:a/b/c", "0:a/b", "0:a", "1:x"}));
    EXPECT_TRUE(settler.empty());
}

TEST(DirectorySettlerTest, ARenameCarriesTheDirectoriesBelowItsOldPath)
{
    DirectorySettler settler;
    settler.note_changed(0, "old/sub/file");
    settler.note_changed(0, "older/file"); // a sibling whose name starts alike stays
    settler.note_changed(1, "old/file");   // another folder stays
    settler.follow_rename(0, "old", "new/place");
    EXPECT_EQ(paths_of(settler.take()),
              (std::vector<std::string>{"0:new/place/sub", "0:new/place", "0:older", "1:old"}));
}

} // namespace
} // namespace minisync::agent

// FolderTable: indices that never move, selection by name without removed folders, the paused state.
#include "folder_table.h"

#include <gtest/gtest.h>

namespace minisync::agent {
namespace {

Folder folder(std::string name, std::string path)
{
    Folder folder;
    folder.spec.name = std::move(name);
    folder.spec.path = std::move(path);
    return folder;
}

TEST(FolderTableTest, AppendReturnsTheNextIndexAndEarlierFoldersKeepTheirs)
{
    FolderTable table;
    EXPECT_EQ(table.append(folder("docs", "/d")), 0U);
    EXPECT_EQ(table.append(folder("photos", "/p")), 1U);
    Folder& docs = table[0];
    table[1].removed = true;
    EXPECT_EQ(table.append(folder("music", "/m")), 2U);
    // A removed folder keeps its index, and a reference taken before an append still names its folder.
    EXPECT_EQ(&docs, &table[0]);
    EXPECT_EQ(table[0].spec.name, "docs");
    EXPECT_TRUE(table[1].removed);
    EXPECT_EQ(table[2].spec.name, "music");
    EXPECT_EQ(table.size(), 3U);
}

TEST(FolderTableTest, SelectWithoutANameGivesEveryFolderNotRemoved)
{
    FolderTable table;
    table.append(folder("docs", "/d"));
    table.append(folder("photos", "/p"));
    table.append(folder("music", "/m"));
    table[1].removed = true;
    EXPECT_EQ(table.select(std::nullopt), (std::vector<std::size_t>{0, 2}));
    EXPECT_EQ(table.names_of(table.select(std::nullopt)), (std::vector<std::string>{"docs", "music"}));
}

TEST(FolderTableTest, SelectByNameSkipsARemovedFolderOfThatName)
{
    FolderTable table;
    table.append(folder("docs", "/old"));
    table[0].removed = true;
    table.append(folder("docs", "/new"));
    EXPECT_EQ(table.select(std::string{"docs"}), (std::vector<std::size_t>{1}));
    EXPECT_TRUE(table.select(std::string{"nosuch"}).empty());
    table[1].removed = true;
    EXPECT_TRUE(table.select(std::string{"docs"}).empty());
}

TEST(FolderTableTest, FindRunningMatchesNameAndPathOfAFolderNotRemoved)
{
    FolderTable table;
    table.append(folder("docs", "/d"));
    table[0].removed = true;
    table.append(folder("docs", "/d"));
    EXPECT_EQ(table.find_running("docs", "/d"), std::optional<std::size_t>{1});
    EXPECT_EQ(table.find_running("docs", "/elsewhere"), std::nullopt);
    EXPECT_EQ(table.find_running("other", "/d"), std::nullopt);
}

TEST(FolderTableTest, AllPausedCountsRemovedFoldersAsPaused)
{
    FolderTable table;
    EXPECT_TRUE(table.all_paused()); // nothing runs
    table.append(folder("docs", "/d"));
    table.append(folder("photos", "/p"));
    EXPECT_FALSE(table.all_paused());
    table[0].paused = true;
    EXPECT_FALSE(table.all_paused());
    table[1].removed = true;
    EXPECT_TRUE(table.all_paused());
    table[0].paused = false;
    EXPECT_FALSE(table.all_paused());
}

// The state reported for each folder: the root's state first, then pause, then whether work waits.
TEST(FolderTableTest, TheReportedStateTakesTheRootFirstThenThePause)
{
    Folder reported = folder("docs", "/d");
    EXPECT_EQ(folder_state_name(reported, false), "idle");
    EXPECT_EQ(folder_state_name(reported, true), "syncing");
    EXPECT_FALSE(reported.held());
    reported.paused = true;
    EXPECT_EQ(folder_state_name(reported, true), "paused");
    EXPECT_TRUE(reported.held());
    reported.root_state = RootVerdict::State::Missing;
    EXPECT_EQ(folder_state_name(reported, true), "missing");
    reported.paused = false;
    EXPECT_TRUE(reported.held());
    reported.root_state = RootVerdict::State::Suspended;
    EXPECT_EQ(folder_state_name(reported, false), "suspended");
    EXPECT_TRUE(reported.held());
}

} // namespace
} // namespace minisync::agent

import datetime

from newslake.tasks.stories import NUM_PERM, assign_stories, signature

DAY = datetime.date(2025, 3, 1)

STORY = (
    "The council approved a new bridge over the river on Monday after a long debate about its cost, "
    "its design and the traffic it would bring to the old town centre in the coming years."
)


def test_stories_signature_is_stable_and_compact():
    assert signature(STORY) == signature(STORY.upper()) and len(signature(STORY)) == 4 * NUM_PERM
    assert signature(STORY) != signature("A different text about the weather in the hills.")


def test_stories_near_copies_join_the_first_story_and_labels_stay():
    edited = STORY.replace("on Monday", "on Monday evening")
    other = "Floods closed three schools in the valley as heavy rain fell for a second day across the region."
    known = [("a", "a", signature(STORY), DAY)]
    new = [("b", signature(edited), DAY), ("c", signature(other), DAY), ("d", signature(other), DAY)]
    assert assign_stories(new, known) == {"b": "a", "c": "c", "d": "c"}


def test_stories_a_changed_document_is_not_its_own_neighbour():
    assert assign_stories([("a", signature(STORY), DAY)], [("a", "a", signature(STORY), DAY)]) == {"a": "a"}


def test_stories_a_copy_joins_only_a_story_within_the_window_in_its_run_or_before_it():
    week, later = DAY + datetime.timedelta(days=7), DAY + datetime.timedelta(days=8)
    known = [("a", "a", signature(STORY), DAY)]
    assert assign_stories([("b", signature(STORY), week)], known) == {"b": "a"}
    assert assign_stories([("c", signature(STORY), later)], known) == {"c": "c"}
    # the same in one run: eight days apart, the second copy starts its own story...
    assert assign_stories([("a", signature(STORY), DAY), ("c", signature(STORY), later)], []) == {"a": "a", "c": "c"}
    # ...unless a copy between them is within the window of both
    new = [("b", signature(STORY), week), ("c", signature(STORY), later)]
    assert assign_stories(new, known) == {"b": "a", "c": "a"}

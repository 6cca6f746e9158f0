from newslake.tasks.stories import NUM_PERM, assign_stories, signature

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
    known = [("a", "a", signature(STORY))]
    stories = assign_stories([("b", signature(edited)), ("c", signature(other)), ("d", signature(other))], known)
    assert stories == {"b": "a", "c": "c", "d": "c"}


def test_stories_a_changed_document_is_not_its_own_neighbour():
    assert assign_stories([("a", signature(STORY))], [("a", "a", signature(STORY))]) == {"a": "a"}

"""Who is who: the org tree, officers by position, members and guests, as the other services publish them."""

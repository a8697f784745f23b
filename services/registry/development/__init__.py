"""发展党员 among migrants: applicants, stages, mentors and 双向考察."""

"""For courses: quiz questions and their formats, the grader of answers files, the catalogue of
common mistakes, the homework's MLP example and identity checks.
"""

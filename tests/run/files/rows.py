# Answers rows whose second `ci_id` is not a string.
print('{"rows": [{"ci_id": "a"}, {"ci_id": 42}]}')

"""What a spec file may say and how it is read.

- :mod:`~convcalc.spec.document`: safe YAML with line numbers, without recursion;
- :mod:`~convcalc.spec.validate`: from a document to a :class:`Spec` (the layers are
  :mod:`convcalc.layers`), and ``load_spec``;
- :mod:`~convcalc.spec.schema`: the JSON Schema for editors.

Nothing is imported here, so that commands load only what they use.
"""

"""What a workflow config costs before it runs (``yolov12 workflow plan``) and after (the report): docs/cost.md."""

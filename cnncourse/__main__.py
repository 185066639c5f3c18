from cnncourse.cli import main

raise SystemExit(main())

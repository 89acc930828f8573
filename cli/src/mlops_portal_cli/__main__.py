from mlops_portal_cli.main import main

raise SystemExit(main())

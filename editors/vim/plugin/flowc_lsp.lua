-- Neovim: start the flowc language server (`flowc lsp`) for `.flow` buffers with
-- the built-in client: diagnostics as you type, hover (K), go to definition,
-- completion (omnifunc), rename, document symbols and code actions.
-- The binary is `vim.g.flowc_path` (default: `flowc` on PATH). Vim skips this file.
vim.api.nvim_create_autocmd('FileType', {
  pattern = 'flow',
  callback = function(args)
    local config = {
      name = 'flowc',
      cmd = { vim.g.flowc_path or 'flowc', 'lsp' },
      root_dir = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(args.buf), ':p:h'),
    }
    if vim.lsp.start then
      vim.lsp.start(config, { bufnr = args.buf })
    else
      -- Neovim 0.7 has no vim.lsp.start.
      vim.lsp.buf_attach_client(args.buf, vim.lsp.start_client(config))
    end
    vim.bo[args.buf].omnifunc = 'v:lua.vim.lsp.omnifunc'
  end,
})

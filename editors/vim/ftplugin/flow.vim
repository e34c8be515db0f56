" Vim filetype plugin
" Language: flow (flowc)

if exists('b:did_ftplugin')
  finish
endif
let b:did_ftplugin = 1

let s:cpo_save = &cpo
set cpo&vim

" Comments: `//`, doc comments `///` and nesting `/* */` blocks.
setlocal commentstring=//\ %s
setlocal comments=s1:/*,mb:*,ex:*/,:///,://
setlocal formatoptions-=t formatoptions+=croql

" The examples and the standard library indent by 4 spaces.
setlocal expandtab shiftwidth=4 softtabstop=4 tabstop=8

setlocal suffixesadd=.flow
setlocal iskeyword=@,48-57,_

let b:undo_ftplugin = 'setlocal commentstring< comments< formatoptions< expandtab< shiftwidth<'
      \ . ' softtabstop< tabstop< suffixesadd< iskeyword<'

let &cpo = s:cpo_save
unlet s:cpo_save

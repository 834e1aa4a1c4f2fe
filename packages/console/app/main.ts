import './style.css';
import { ConsoleApp } from './app.ts';

new ConsoleApp(document.getElementById('app')!).start();
